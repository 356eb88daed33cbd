import { Code } from "@connectrpc/connect";
import { Observable, type Subscription } from "rxjs";
import { buildRequest } from "../gemini/build-request.ts";
import { ChunkTranslator } from "../gemini/chunk-translator.ts";
import { convertUsage } from "../gemini/convert-usage.ts";
import type { GenerateContentRequest, GenerateContentResponse } from "../gemini/wire.ts";
import type {
  CompleteRequest,
  Completion,
  CompletionChunk,
  Usage,
} from "../gen/geminate/v1/chat_pb.js";
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
    options: UpstreamOptions,
  ): Observable<GenerateContentResponse>;
}

export interface UpstreamOptions {
  stream: boolean;
  flow: Flow;
  /** The caller's remaining deadline, passed on. */
  timeoutMs?: number | undefined;
  /** Extra headers for the upstream call (W3C trace context). */
  headers?: Record<string, string> | undefined;
}

/** Per-call options from the edge. */
export interface CallOptions {
  timeoutMs?: number | undefined;
  headers?: Record<string, string> | undefined;
}

/** Told about every upstream call when it ends, for metrics. */
export type UpstreamReport = (
  model: string,
  seconds: number,
  firstChunkSeconds: number | undefined,
  usage: Usage | undefined,
  error?: unknown,
) => void;

export interface ChatDependencies {
  upstream: Upstream;
  catalogue: ModelCatalogue;
  /** Fetches media URLs for requests (SSRF-safe). */
  fetcher: SafeFetch;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** A fresh unique id (for answers and tool calls the upstream gave none). */
  newId?: () => string;
  /** Told about each upstream call as it ends. */
  report?: UpstreamReport;
  /** Told when a media URL could not be fetched (refused or failed). */
  onFetchRefused?: () => void;
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
      report: () => {},
      onFetchRefused: () => {},
      ...deps,
    };
  }

  get catalogue(): ModelCatalogue {
    return this.#deps.catalogue;
  }

  /**
   * The frames of one answer, cold: nothing is fetched or sent upstream until subscribed.
   * Request building, the upstream call, its timing report and the translation are one
   * Observable rather than a chain of operators: every stream holds its subscribers for its
   * whole life, and the chain (defer, from, switchMap, tap, finalize and an operator) cost
   * about 30 closures and subscribers per stream.
   */
  frames(
    request: CompleteRequest,
    flow: Flow,
    signal: AbortSignal,
    options: CallOptions & { upstreamStream?: boolean } = {},
  ): Observable<CompletionChunk> {
    const { upstream, catalogue, fetcher, now, newId, report, onFetchRefused } = this.#deps;
    return new Observable<CompletionChunk>((subscriber) => {
      const model = catalogue.resolve(request.model);
      if (!model) {
        throw new GatewayError(`The model '${request.model}' does not exist`, Code.NotFound, {
          param: "model",
          reason: "model_not_found",
        });
      }
      const translator = new ChunkTranslator({
        model: request.model,
        created: BigInt(Math.floor(now() / 1000)),
        newId,
      });
      const emit = (frame: CompletionChunk) => subscriber.next(frame);
      const media = new MediaResolver(
        fetcher,
        signal,
        model.capabilities.mediaResolution ?? false,
        onFetchRefused,
      );
      let call: Subscription | undefined;
      buildRequest(request, model, (m, param) => media.part(m, param)).then(
        (body) => {
          if (subscriber.closed) return;
          const started = performance.now();
          let first: number | undefined;
          let usage: GenerateContentResponse["usageMetadata"];
          let error: unknown;
          call = upstream
            .generate(model.upstream, body, {
              stream: options.upstreamStream ?? true,
              flow,
              timeoutMs: options.timeoutMs,
              headers: options.headers,
            })
            .subscribe({
              next(event) {
                first ??= (performance.now() - started) / 1000;
                if (event.usageMetadata) usage = event.usageMetadata;
                try {
                  translator.push(event, emit);
                } catch (err) {
                  subscriber.error(err);
                }
              },
              error(err) {
                error = err;
                subscriber.error(err);
              },
              complete() {
                try {
                  translator.end(emit);
                  subscriber.complete();
                } catch (err) {
                  subscriber.error(err);
                }
              },
            });
          // Told when the call ends, fails or is given up (runs at once if it already has).
          call.add(() =>
            report(
              model.upstream,
              (performance.now() - started) / 1000,
              first,
              usage && convertUsage(usage),
              error,
            ),
          );
        },
        (err: unknown) => subscriber.error(err),
      );
      return () => call?.unsubscribe();
    });
  }

  /**
   * Frames as an async iterator the caller pulls; `signal` aborts the upstream call, and
   * `timeoutMs` (a caller's remaining deadline) is passed on to the upstream.
   */
  stream(
    request: CompleteRequest,
    signal: AbortSignal,
    options: CallOptions = {},
  ): AsyncIterableIterator<CompletionChunk> {
    const flow = new Flow();
    return pull(this.frames(request, flow, signal, options), flow, signal);
  }

  /** The whole answer, from the upstream's unary method. */
  async complete(
    request: CompleteRequest,
    signal: AbortSignal,
    options: CallOptions = {},
  ): Promise<Completion> {
    const flow = new Flow();
    const builder = new CompletionBuilder();
    const frames = this.frames(request, flow, signal, { ...options, upstreamStream: false });
    for await (const frame of pull(frames, flow, signal)) {
      builder.add(frame);
    }
    return builder.build();
  }
}
