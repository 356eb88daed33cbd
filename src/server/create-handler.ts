import type http from "node:http";
import type http2 from "node:http2";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Chat } from "../core/chat.ts";
import { GatewayError } from "../core/gateway-error.ts";
import type { Logger } from "../logger.ts";
import { createOpenAIHandler } from "../openai/openai-handler.ts";
import { notFound, sendError, sendJson } from "../openai/send.ts";
import { chatService } from "../rpc/chat-service.ts";
import { specGrpcMessage } from "../rpc/spec-grpc-message.ts";
import type { ClientKeys } from "./client-keys.ts";

export interface HandlerOptions {
  chat: Chat;
  clientKeys: ClientKeys;
  logger: Logger;
  /** Whether the process accepts new work (false while draining). */
  isReady: () => boolean;
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
  const { clientKeys, logger, isReady, shutdownSignal, upstreamLabel } = options;
  const openai = createOpenAIHandler({
    chat: options.chat,
    maxBodyBytes: options.maxBodyBytes,
    modelsCreated: 1_735_689_600, // 2025-01-01: the catalogue's epoch, stable across restarts
  });

  const requireKey: Interceptor = (next) => async (req) => {
    if (!clientKeys.verify(req.header.get("authorization"))) {
      throw new ConnectError("a valid API key is required", Code.Unauthenticated);
    }
    return next(req);
  };

  const adapter = connectNodeAdapter({
    routes: chatService(options.chat),
    interceptors: clientKeys.open ? [] : [requireKey],
    // The same cap on a gRPC/Connect message as on an HTTP body.
    readMaxBytes: options.maxBodyBytes,
    writeMaxBytes: 64 * 1024 * 1024,
    shutdownSignal,
    async fallback(req, res) {
      const path = (req.url ?? "/").split("?", 1)[0]!;
      if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
      if (path === "/readyz") {
        return isReady()
          ? sendJson(res, 200, { status: "ready" })
          : sendJson(res, 503, { status: "draining" });
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
      const abort = () => call.abort();
      res.once("close", abort);
      shutdownSignal.addEventListener("abort", abort, { once: true });
      try {
        if (!(await openai(req, res, path, call.signal))) notFound(res, `The route ${path}`);
      } catch (err) {
        logger.error({ err, path }, "unhandled error in the OpenAI facade");
        sendError(res, ConnectError.from(err));
      } finally {
        shutdownSignal.removeEventListener("abort", abort);
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
