import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { Chat } from "../core/chat.ts";
import { toConnectError } from "../core/gateway-error.ts";
import { parseChatRequest } from "./chat-request.ts";
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
}

/**
 * The OpenAI facade: `/v1/chat/completions`, `/v1/models`, `/v1/models/{id}`. Answers true when
 * the path is one of its own.
 */
export function createOpenAIHandler(options: OpenAIHandlerOptions) {
  const { chat, maxBodyBytes, modelsCreated } = options;
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
  ): Promise<void> {
    try {
      const call = parseChatRequest(await readJsonBody(req, maxBodyBytes));
      if (call.stream) {
        await writeSse(res, chat.stream(call.request, signal), call.includeUsage, signal);
      } else {
        sendJson(res, 200, renderCompletion(await chat.complete(call.request, signal)));
      }
    } catch (err) {
      sendError(res, toConnectError(err));
    }
  }

  return async function handle(
    req: IncomingMessage | Http2ServerRequest,
    res: NodeResponse,
    path: string,
    signal: AbortSignal,
  ): Promise<boolean> {
    if (path === "/v1/chat/completions" || path === "/chat/completions") {
      if (req.method !== "POST") return methodNotAllowed(res, "POST");
      await chatCompletions(req, res, signal);
      return true;
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
