import { Code } from "@connectrpc/connect";
import {
  Observable,
  type Observer,
  type Subscriber,
  type Subscription,
  type Unsubscribable,
} from "rxjs";
import { buildRequest } from "../gemini/build-request.ts";
import { ChunkTranslator } from "../gemini/chunk-translator.ts";
import { convertUsage } from "../gemini/convert-usage.ts";
import type {
  GeminiUsage,
  GenerateContentRequest,
  GenerateContentResponse,
} from "../gemini/wire.ts";
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
import type { ModelCatalogue, ResolvedModel } from "./models.ts";
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
   * `Answer` per subscription rather than a chain of operators: every stream holds these for
   * its whole life, and the operator chain cost about 30 closures and subscribers per stream.
   */
  frames(
    request: CompleteRequest,
    flow: Flow,
    signal: AbortSignal,
    options: CallOptions & { upstreamStream?: boolean } = {},
  ): Observable<CompletionChunk> {
    return new Observable<CompletionChunk>((subscriber) =>
      new Answer(this.#deps, subscriber, request).start(request, flow, signal, options),
    );
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

/**
 * One subscription to `Chat.frames`: it observes the upstream call and is the teardown of the
 * subscriber (an Unsubscribable). A class, not closures: an open stream holds it for life.
 */
class Answer implements Observer<GenerateContentResponse>, Unsubscribable {
  readonly #deps: Required<ChatDependencies>;
  readonly #subscriber: Subscriber<CompletionChunk>;
  readonly #model: ResolvedModel;
  readonly #translator: ChunkTranslator;
  #call: Subscription | undefined;
  #started = 0;
  #first: number | undefined;
  #usage: GeminiUsage | undefined;
  #reported = false;

  /** Throws NotFound for an unknown model (the subscriber gets it as its error). */
  constructor(
    deps: Required<ChatDependencies>,
    subscriber: Subscriber<CompletionChunk>,
    request: CompleteRequest,
  ) {
    const model = deps.catalogue.resolve(request.model);
    if (!model) {
      throw new GatewayError(`The model '${request.model}' does not exist`, Code.NotFound, {
        param: "model",
        reason: "model_not_found",
      });
    }
    this.#deps = deps;
    this.#subscriber = subscriber;
    this.#model = model;
    this.#translator = new ChunkTranslator({
      model: request.model,
      created: BigInt(Math.floor(deps.now() / 1000)),
      newId: deps.newId,
    });
  }

  /** Builds the request and calls upstream. `request` is not kept: a long stream need not hold it. */
  start(
    request: CompleteRequest,
    flow: Flow,
    signal: AbortSignal,
    options: CallOptions & { upstreamStream?: boolean },
  ): this {
    const { fetcher, onFetchRefused } = this.#deps;
    const model = this.#model;
    const media = new MediaResolver(
      fetcher,
      signal,
      model.capabilities.mediaResolution ?? false,
      onFetchRefused,
    );
    buildRequest(request, model, (m, param) => media.part(m, param)).then(
      (body) => {
        if (this.#subscriber.closed) return;
        this.#started = performance.now();
        this.#call = this.#deps.upstream
          .generate(model.upstream, body, {
            stream: options.upstreamStream ?? true,
            flow,
            timeoutMs: options.timeoutMs,
            headers: options.headers,
          })
          .subscribe(this);
      },
      (err: unknown) => this.#subscriber.error(err),
    );
    return this;
  }

  next(event: GenerateContentResponse): void {
    this.#first ??= (performance.now() - this.#started) / 1000;
    if (event.usageMetadata) this.#usage = event.usageMetadata;
    try {
      this.#translator.push(event, this.#subscriber);
    } catch (err) {
      this.#subscriber.error(err);
    }
  }

  error(err: unknown): void {
    this.#report(err);
    this.#subscriber.error(err);
  }

  complete(): void {
    this.#report();
    try {
      this.#translator.end(this.#subscriber);
      this.#subscriber.complete();
    } catch (err) {
      this.#subscriber.error(err);
    }
  }

  /** The subscriber is done (or gave up): the upstream call is given up too. */
  unsubscribe(): void {
    this.#call?.unsubscribe();
    this.#report();
  }

  /** Tells `report` once about an upstream call that was made. */
  #report(error?: unknown): void {
    if (this.#reported || this.#started === 0) return;
    this.#reported = true;
    const usage = this.#usage;
    this.#deps.report(
      this.#model.upstream,
      (performance.now() - this.#started) / 1000,
      this.#first,
      usage && convertUsage(usage),
      error,
    );
  }
}
