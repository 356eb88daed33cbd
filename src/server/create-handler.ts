import type http from "node:http";
import type http2 from "node:http2";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Chat } from "../core/chat.ts";
import { GatewayError } from "../core/gateway-error.ts";
import { tap } from "../core/tap.ts";
import { ChatService, type Completion, type CompletionChunk } from "../gen/geminate/v1/chat_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createOpenAIHandler } from "../openai/openai-handler.ts";
import { notFound, sendError, sendJson } from "../openai/send.ts";
import { chatService } from "../rpc/chat-service.ts";
import { directStreamComplete } from "../rpc/direct-stream-complete.ts";
import { healthService } from "../rpc/health-service.ts";
import type { HealthState } from "../rpc/health-state.ts";
import { reflectionService } from "../rpc/reflection-service.ts";
import { specGrpcMessage } from "../rpc/spec-grpc-message.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { type CallObserver, type CallRecord, callRecordKey } from "./call-record.ts";
import { ChatCalls, setUsageTrailers } from "./chat-calls.ts";
import type { ClientKeys } from "./client-keys.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { requestId } from "./request-id.ts";
import { ShutdownFanout } from "./shutdown-fanout.ts";

/** Deadlines longer than a day are refused (InvalidArgument) rather than silently cut. */
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

export interface HandlerOptions {
  chat: Chat;
  clientKeys: ClientKeys;
  /** Log line, metrics and span of every call. */
  observer: CallObserver;
  /** Served at /metrics (unless a separate metrics port serves it). */
  metrics: Metrics | undefined;
  /** Serving or draining: the probes, gRPC health and readiness read it. */
  health: HealthState;
  /** Aborted when the shutdown grace period is over: every call still running ends. */
  shutdownSignal: AbortSignal;
  maxBodyBytes: number;
  /** SSE comment pings after this much silence. */
  ssePingMs: number;
  /** Per-client-key limits, when configured. */
  limiter: RateLimiter | undefined;
  /** Set when answering from the embedded emulator; sent as `x-geminate-upstream`. */
  upstreamLabel?: string;
}

/**
 * The one request handler for both HTTP versions: connect-node serves ChatService (gRPC,
 * Connect, gRPC-Web), health and reflection; everything else falls back to the OpenAI facade
 * and the probes. Every call gets a request id and one log line.
 */
export function createHandler(options: HandlerOptions) {
  const { clientKeys, health, shutdownSignal, upstreamLabel, limiter, observer, metrics } = options;
  const openai = createOpenAIHandler({
    chat: options.chat,
    maxBodyBytes: options.maxBodyBytes,
    modelsCreated: 1_735_689_600, // 2025-01-01: the catalogue's epoch, stable across restarts
    pingMs: options.ssePingMs,
    limiter,
  });

  const calls = new ChatCalls(observer, clientKeys, limiter);
  /** ChatService calls through connect-node: their record, usage trailers and first token. */
  const observe: Interceptor = (next) => async (req) => {
    if (req.service.typeName !== ChatService.typeName) return next(req);
    const type = req.header.get("content-type") ?? "";
    const record = calls.begin(
      type.startsWith("application/grpc-web")
        ? "grpc-web"
        : type.startsWith("application/grpc")
          ? "grpc"
          : "connect",
      req.method.name,
      (name) => req.header.get(name),
      req.header,
    );
    req.contextValues.set(callRecordKey, record);
    try {
      const res = await next(req);
      res.header.set("x-request-id", record.id);
      if (!res.stream) {
        const usage = (res.message as Partial<Completion>).usage;
        record.usage = usage;
        if (usage) setUsageTrailers(res.trailer, usage);
        calls.end(record, req.signal);
        return res;
      }
      return {
        ...res,
        message: tap(
          res.message,
          (frame) => calls.frame(record, frame as CompletionChunk, res.trailer),
          (err) => {
            if (err !== undefined) record.error = err;
            calls.end(record, req.signal);
          },
        ),
      };
    } catch (err) {
      record.error = err;
      calls.end(record, req.signal);
      throw err;
    }
  };

  const shutdown = new ShutdownFanout(shutdownSignal);
  const direct = directStreamComplete({
    chat: options.chat,
    calls,
    maxBodyBytes: options.maxBodyBytes,
    maxTimeoutMs: MAX_TIMEOUT_MS,
    shutdown,
  });

  const services = [
    ChatService.typeName,
    Health.typeName,
    ServerReflectionV1.typeName,
    ServerReflectionV1Alpha.typeName,
  ];
  const reflection = reflectionService(services);
  const adapter = connectNodeAdapter({
    routes(router) {
      chatService(options.chat)(router);
      healthService(health)(router);
      reflection(router);
    },
    interceptors: [observe],
    // The same cap on a gRPC/Connect message as on an HTTP body.
    readMaxBytes: options.maxBodyBytes,
    writeMaxBytes: 64 * 1024 * 1024,
    maxTimeoutMs: MAX_TIMEOUT_MS,
    shutdownSignal,
    async fallback(req, res) {
      const path = (req.url ?? "/").split("?", 1)[0]!;
      if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
      if (path === "/metrics" && metrics) {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
        return;
      }
      if (path === "/readyz") {
        return health.draining
          ? sendJson(res, 503, { status: "draining" })
          : sendJson(res, 200, { status: "ready" });
      }
      const record: CallRecord = observer.begin(
        {
          id: requestId(req.headers["x-request-id"]),
          protocol: "openai",
          route: `${req.method} ${path}`,
          client: clientKeys.identify(req.headers.authorization),
        },
        req.headers,
      );
      res.setHeader("x-request-id", record.id);
      if (record.client === undefined) {
        const err = new GatewayError(
          "A valid API key is required (Authorization: Bearer KEY)",
          Code.Unauthenticated,
          {
            reason: "invalid_api_key",
          },
        );
        record.error = err;
        sendError(res, err);
        record.status = res.statusCode;
        observer.end(record);
        return;
      }
      const call = new AbortController();
      // Only a close before the answer is done is a client leaving (aborting allocates).
      let done = false;
      const gone = () => {
        if (!done) call.abort();
      };
      const ended = () =>
        call.abort(new ConnectError("the server is shutting down", Code.Unavailable));
      res.once("close", gone);
      shutdown.add(ended);
      try {
        if (!(await openai(req, res, path, call.signal, record)))
          notFound(res, `The route ${path}`);
      } catch (err) {
        record.error = err;
        sendError(res, ConnectError.from(err));
      } finally {
        done = true;
        res.off("close", gone);
        shutdown.delete(ended);
        // Aborted without a reason of ours: the client left before the answer was done.
        record.cancelled ||= call.signal.aborted && !(call.signal.reason instanceof ConnectError);
        record.status = res.statusCode;
        observer.end(record);
      }
    },
  });

  return (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    if (upstreamLabel) res.setHeader("x-geminate-upstream", upstreamLabel);
    const type = req.headers["content-type"] ?? "";
    if (type.startsWith("application/grpc") && !type.startsWith("application/grpc-web"))
      specGrpcMessage(res);
    if (!direct(req, res)) adapter(req, res);
  };
}
