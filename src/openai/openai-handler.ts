import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { ConnectError } from "@connectrpc/connect";
import type { Chat } from "../core/chat.ts";
import { toConnectError } from "../core/gateway-error.ts";
import type { CallRecord } from "../server/call-record.ts";
import type { RateLimiter } from "../server/rate-limiter.ts";
import { type ChatCall, parseChatRequest } from "./chat-request.ts";
import { PingClock } from "./ping-clock.ts";
import { readJsonBody } from "./read-json-body.ts";
import { renderCompletion } from "./render-chunk.ts";
import { type NodeResponse, notFound, sendError, sendJson } from "./send.ts";
import { writeSse } from "./write-sse.ts";

export interface OpenAIHandlerOptions {
  chat: Chat;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
  /** Unix seconds reported as every model's `created`. */
  modelsCreated: number;
  /** SSE comment pings after this much silence. */
  pingMs: number;
  /** Per-client-key limits, when configured. */
  limiter: RateLimiter | undefined;
}

/**
 * The OpenAI facade: `/v1/chat/completions`, `/v1/models`, `/v1/models/{id}`. Answers true when
 * the path is one of its own.
 */
export function createOpenAIHandler(options: OpenAIHandlerOptions) {
  const { chat, maxBodyBytes, modelsCreated, limiter } = options;
  const pings = new PingClock(options.pingMs);
  const modelJson = (id: string) => ({
    id,
    object: "model",
    created: modelsCreated,
    owned_by: "google",
  });

  async function chatCompletions(
    req: IncomingMessage | Http2ServerRequest,
    res: NodeResponse,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<true> {
    try {
      let call: ChatCall | undefined = parseChatRequest(await readJsonBody(req, maxBodyBytes));
      record.model = call.request.model;
      limiter?.admit(record.client ?? "anonymous");
      if (call.stream) {
        const frames = chat.stream(call.request, signal, { headers: record.upstreamHeaders });
        const { includeUsage } = call;
        // This frame stays suspended for the whole stream: it must not keep the request (a
        // long prompt, images, PDFs) alive after the upstream call has it.
        call = undefined;
        const result = await writeSse(res, frames, includeUsage, signal, pings);
        record.usage = result.usage;
        record.firstToken = result.firstToken;
        record.error = result.error;
        record.cancelled = result.outcome === "gone";
      } else {
        const completion = await chat.complete(call.request, signal, {
          headers: record.upstreamHeaders,
        });
        record.usage = completion.usage;
        sendJson(res, 200, renderCompletion(completion));
      }
    } catch (err) {
      record.error = err;
      record.cancelled = signal.aborted && !(signal.reason instanceof ConnectError);
      sendError(res, toConnectError(err));
    } finally {
      if (record.usage) limiter?.charge(record.client ?? "anonymous", record.usage.totalTokens);
    }
    return true;
  }

  // Not async: a stream's handler stays suspended for the stream's whole life, and one level
  // fewer of them is one generator, promise and context fewer per open stream.
  return function handle(
    req: IncomingMessage | Http2ServerRequest,
    res: NodeResponse,
    path: string,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<true> | boolean {
    if (path === "/v1/chat/completions" || path === "/chat/completions") {
      if (req.method !== "POST") return methodNotAllowed(res, "POST");
      return chatCompletions(req, res, signal, record);
    }
    if (path === "/v1/models") {
      if (req.method !== "GET") return methodNotAllowed(res, "GET");
      sendJson(res, 200, { object: "list", data: chat.catalogue.ids().map(modelJson) });
      return true;
    }
    if (path.startsWith("/v1/models/")) {
      if (req.method !== "GET") return methodNotAllowed(res, "GET");
      const id = decodeURIComponent(path.slice("/v1/models/".length));
      const model = chat.catalogue.resolve(id);
      if (model) sendJson(res, 200, modelJson(id));
      else notFound(res, `The model '${id}'`);
      return true;
    }
    return false;
  };
}

function methodNotAllowed(res: NodeResponse, allow: string): true {
  res.writeHead(405, { allow, "content-type": "application/json" });
  res.end(
    JSON.stringify({
      error: {
        message: `Only ${allow} is allowed here`,
        type: "invalid_request_error",
        param: null,
        code: "method_not_allowed",
      },
    }),
  );
  return true;
}
