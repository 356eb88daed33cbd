import { Code } from "@connectrpc/connect";
import { defer, type Observable } from "rxjs";
import { buildRequest } from "../gemini/build-request.ts";
import { toCompletionChunks } from "../gemini/to-completion-chunks.ts";
import type { GenerateContentRequest, GenerateContentResponse } from "../gemini/wire.ts";
import type { CompleteRequest, Completion, CompletionChunk } from "../gen/geminate/v1/chat_pb.js";
import { CompletionBuilder } from "./aggregate.ts";
import { Flow } from "./flow.ts";
import { GatewayError } from "./gateway-error.ts";
import { resolveModel } from "./models.ts";
import { pull } from "./pull.ts";

/** What the core needs from the upstream: Gemini events for one request. */
export interface Upstream {
  generate(
    model: string,
    body: GenerateContentRequest,
    options: { stream: boolean; flow: Flow },
  ): Observable<GenerateContentResponse>;
}

export interface ChatDependencies {
  upstream: Upstream;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** A fresh unique id (for answers the upstream gave none). */
  newId?: () => string;
}

/**
 * The core pipeline every protocol uses: CompleteRequest + cancellation signal in, delta frames
 * out. `stream` pulls frames as they come; `complete` aggregates the same frames.
 */
export class Chat {
  readonly #upstream: Upstream;
  readonly #now: () => number;
  readonly #newId: () => string;

  constructor(deps: ChatDependencies) {
    this.#upstream = deps.upstream;
    this.#now = deps.now ?? Date.now;
    this.#newId = deps.newId ?? (() => crypto.randomUUID().replaceAll("-", ""));
  }

  /** The frames of one answer, cold: nothing is sent upstream until subscribed. */
  frames(request: CompleteRequest, flow: Flow, upstreamStream = true): Observable<CompletionChunk> {
    return defer(() => {
      const model = resolveModel(request.model);
      if (!model) {
        throw new GatewayError(`The model '${request.model}' does not exist`, Code.NotFound, {
          param: "model",
          reason: "model_not_found",
        });
      }
      const body = buildRequest(request, model);
      return this.#upstream.generate(model.upstream, body, { stream: upstreamStream, flow }).pipe(
        toCompletionChunks({
          model: request.model,
          created: BigInt(Math.floor(this.#now() / 1000)),
          newId: this.#newId,
        }),
      );
    });
  }

  /** Frames as an async iterator the caller pulls; `signal` aborts the upstream call. */
  stream(request: CompleteRequest, signal: AbortSignal): AsyncIterableIterator<CompletionChunk> {
    const flow = new Flow();
    return pull(this.frames(request, flow), flow, signal);
  }

  /** The whole answer, from the upstream's unary method. */
  async complete(request: CompleteRequest, signal: AbortSignal): Promise<Completion> {
    const flow = new Flow();
    const builder = new CompletionBuilder();
    for await (const frame of pull(this.frames(request, flow, false), flow, signal)) {
      builder.add(frame);
    }
    return builder.build();
  }
}
