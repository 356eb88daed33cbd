import type http from "node:http";
import type http2 from "node:http2";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Chat } from "../core/chat.ts";
import { GatewayError } from "../core/gateway-error.ts";
import { ChatService } from "../gen/geminate/v1/chat_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { Logger } from "../logger.ts";
import { createOpenAIHandler } from "../openai/openai-handler.ts";
import { notFound, sendError, sendJson } from "../openai/send.ts";
import { chatService } from "../rpc/chat-service.ts";
import { healthService } from "../rpc/health-service.ts";
import type { HealthState } from "../rpc/health-state.ts";
import { reflectionService } from "../rpc/reflection-service.ts";
import { specGrpcMessage } from "../rpc/spec-grpc-message.ts";
import type { ClientKeys } from "./client-keys.ts";

export interface HandlerOptions {
  chat: Chat;
  clientKeys: ClientKeys;
  logger: Logger;
  /** Serving or draining: the probes, gRPC health and readiness read it. */
  health: HealthState;
  /** Aborted when the shutdown grace period is over: every call still running ends. */
  shutdownSignal: AbortSignal;
  maxBodyBytes: number;
  /** Set when answering from the embedded emulator; sent as `x-geminate-upstream`. */
  upstreamLabel?: string;
}

/**
 * The one request handler for both HTTP versions: connect-node serves ChatService (gRPC,
 * Connect, gRPC-Web); everything else falls back to the OpenAI facade and the probes.
 */
export function createHandler(options: HandlerOptions) {
  const { clientKeys, logger, health, shutdownSignal, upstreamLabel } = options;
  const openai = createOpenAIHandler({
    chat: options.chat,
    maxBodyBytes: options.maxBodyBytes,
    modelsCreated: 1_735_689_600, // 2025-01-01: the catalogue's epoch, stable across restarts
  });

  // Health and reflection stay open: probes and tools carry no keys.
  const requireKey: Interceptor = (next) => async (req) => {
    if (
      !req.service.typeName.startsWith("grpc.") &&
      !clientKeys.verify(req.header.get("authorization"))
    ) {
      throw new ConnectError("a valid API key is required", Code.Unauthenticated);
    }
    return next(req);
  };

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
    interceptors: clientKeys.open ? [] : [requireKey],
    // The same cap on a gRPC/Connect message as on an HTTP body.
    readMaxBytes: options.maxBodyBytes,
    writeMaxBytes: 64 * 1024 * 1024,
    // Deadlines longer than a day are refused (InvalidArgument) rather than silently cut.
    maxTimeoutMs: 24 * 60 * 60 * 1000,
    shutdownSignal,
    async fallback(req, res) {
      const path = (req.url ?? "/").split("?", 1)[0]!;
      if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
      if (path === "/readyz") {
        return health.draining
          ? sendJson(res, 503, { status: "draining" })
          : sendJson(res, 200, { status: "ready" });
      }
      if (!clientKeys.verify(req.headers.authorization)) {
        return sendError(
          res,
          new GatewayError(
            "A valid API key is required (Authorization: Bearer KEY)",
            Code.Unauthenticated,
            {
              reason: "invalid_api_key",
            },
          ),
        );
      }
      const call = new AbortController();
      const gone = () => call.abort();
      const shutdown = () =>
        call.abort(new ConnectError("the server is shutting down", Code.Unavailable));
      res.once("close", gone);
      shutdownSignal.addEventListener("abort", shutdown, { once: true });
      try {
        if (!(await openai(req, res, path, call.signal))) notFound(res, `The route ${path}`);
      } catch (err) {
        logger.error({ err, path }, "unhandled error in the OpenAI facade");
        sendError(res, ConnectError.from(err));
      } finally {
        shutdownSignal.removeEventListener("abort", shutdown);
      }
    },
  });

  return (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    if (upstreamLabel) res.setHeader("x-geminate-upstream", upstreamLabel);
    const type = req.headers["content-type"] ?? "";
    if (type.startsWith("application/grpc") && !type.startsWith("application/grpc-web")) {
      specGrpcMessage(res);
    }
    adapter(req, res);
  };
}
