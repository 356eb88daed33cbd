import { Code } from "@connectrpc/connect";
import { defer, from, type Observable, switchMap } from "rxjs";
import { buildRequest } from "../gemini/build-request.ts";
import { toCompletionChunks } from "../gemini/to-completion-chunks.ts";
import type { GenerateContentRequest, GenerateContentResponse } from "../gemini/wire.ts";
import type { CompleteRequest, Completion, CompletionChunk } from "../gen/geminate/v1/chat_pb.js";
import { MediaResolver } from "../media/media-resolver.ts";
import type { SafeFetch } from "../media/safe-fetch.ts";
import { CompletionBuilder } from "./aggregate.ts";
import { Flow } from "./flow.ts";
import { GatewayError } from "./gateway-error.ts";
import type { ModelCatalogue } from "./models.ts";
import { pull } from "./pull.ts";

/** What the core needs from the upstream: Gemini events for one request. */
export interface Upstream {
  generate(
    model: string,
    body: GenerateContentRequest,
    options: { stream: boolean; flow: Flow; timeoutMs?: number | undefined },
  ): Observable<GenerateContentResponse>;
}

export interface ChatDependencies {
  upstream: Upstream;
  catalogue: ModelCatalogue;
  /** Fetches media URLs for requests (SSRF-safe). */
  fetcher: SafeFetch;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** A fresh unique id (for answers and tool calls the upstream gave none). */
  newId?: () => string;
}

/**
 * The core pipeline every protocol uses: CompleteRequest + cancellation signal in, delta frames
 * out. `stream` pulls frames as they come; `complete` aggregates the same frames.
 */
export class Chat {
  readonly #deps: Required<ChatDependencies>;

  constructor(deps: ChatDependencies) {
    this.#deps = {
      now: Date.now,
      newId: () => crypto.randomUUID().replaceAll("-", ""),
      ...deps,
    };
  }

  get catalogue(): ModelCatalogue {
    return this.#deps.catalogue;
  }

  /** The frames of one answer, cold: nothing is fetched or sent upstream until subscribed. */
  frames(
    request: CompleteRequest,
    flow: Flow,
    signal: AbortSignal,
    options: { upstreamStream?: boolean; timeoutMs?: number | undefined } = {},
  ): Observable<CompletionChunk> {
    const { upstream, catalogue, fetcher, now, newId } = this.#deps;
    return defer(() => {
      const model = catalogue.resolve(request.model);
      if (!model) {
        throw new GatewayError(`The model '${request.model}' does not exist`, Code.NotFound, {
          param: "model",
          reason: "model_not_found",
        });
      }
      const media = new MediaResolver(fetcher, signal, model.capabilities.mediaResolution ?? false);
      const body = buildRequest(request, model, (m, param) => media.part(m, param));
      return from(body).pipe(
        switchMap((b) =>
          upstream.generate(model.upstream, b, {
            stream: options.upstreamStream ?? true,
            flow,
            timeoutMs: options.timeoutMs,
          }),
        ),
        toCompletionChunks({
          model: request.model,
          created: BigInt(Math.floor(now() / 1000)),
          newId,
        }),
      );
    });
  }

  /**
   * Frames as an async iterator the caller pulls; `signal` aborts the upstream call, and
   * `timeoutMs` (a caller's remaining deadline) is passed on to the upstream.
   */
  stream(
    request: CompleteRequest,
    signal: AbortSignal,
    timeoutMs?: number,
  ): AsyncIterableIterator<CompletionChunk> {
    const flow = new Flow();
    return pull(this.frames(request, flow, signal, { timeoutMs }), flow, signal);
  }

  /** The whole answer, from the upstream's unary method. */
  async complete(
    request: CompleteRequest,
    signal: AbortSignal,
    timeoutMs?: number,
  ): Promise<Completion> {
    const flow = new Flow();
    const builder = new CompletionBuilder();
    const frames = this.frames(request, flow, signal, { upstreamStream: false, timeoutMs });
    for await (const frame of pull(frames, flow, signal)) {
      builder.add(frame);
    }
    return builder.build();
  }
}
