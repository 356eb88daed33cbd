import { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { Observable, type Subscriber, type TeardownLogic } from "rxjs";
import { Pool } from "undici";
import type { UpstreamOptions as GenerateOptions } from "../core/chat.ts";
import { GatewayError } from "../core/gateway-error.ts";
import { Exchange } from "./exchange.ts";
import { KeyPool } from "./key-pool.ts";
import { upstreamError } from "./map-status.ts";
import { readEvents } from "./read-events.ts";
import {
  type GenerateContentRequest,
  type GenerateContentResponse,
  generateContentResponseSchema,
  modelsPageSchema,
} from "./wire.ts";

export interface GeminiClientOptions {
  /** Origin (and optional path prefix) of the Gemini API. */
  baseUrl: string;
  /** Sent in `x-goog-api-key` only: never in a URL, never logged. Several form a pool. */
  apiKeys: readonly string[];
  /** Connections per pool; defaults to maxInflight (HTTP/1.1 needs one per call in flight). */
  connections?: number;
  /** HTTP/2 with prior knowledge to an http:// base URL (https negotiates HTTP/2 by ALPN). */
  h2c?: boolean;
  /** Time to connect to the upstream. */
  connectTimeoutMs?: number;
  /** Time from sending the request to the first answer event. */
  firstByteTimeoutMs?: number;
  /** Longest silence between two events, counted only while geminate waits for data. */
  idleTimeoutMs?: number;
  /** Longest a stream may last; 0: no limit. */
  maxStreamMs?: number;
  /** Upstream calls in flight at once; past it calls fail fast with 503. */
  maxInflight?: number;
  /** Attempts per call (the first included), before the first answer byte only. */
  maxAttempts?: number;
  /** Total time a call may spend waiting between attempts. */
  maxRetryWaitMs?: number;
  /** For jitter; tests make it deterministic. */
  random?: () => number;
  now?: () => number;
}

/** Largest error body or unary answer read into memory (an image answer can be large). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A key whose quota ran out without a RetryInfo rests this long. */
const DEFAULT_COOL_DOWN_MS = 5_000;
/** A key whose daily quota ran out rests this long. */
const DAILY_COOL_DOWN_MS = 60 * 60_000;
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
/**
 * Request bytes the HTTP/2 pool may have sent without an answer begun. Node refuses new streams
 * on a session holding more than its maxSessionMemory (10 MB, which undici cannot raise) of
 * unsent data: six 4 MB prompts at once failed half their first attempts. Past this budget a
 * stream goes over HTTP/1.1, on a connection of its own.
 */
const H2_UNANSWERED_BYTES = 6 * 1024 * 1024;
/**
 * A streaming request body from this size on is handed to undici as a stream: it keeps any
 * other body until the answer ends (a stream's whole life, with photos or PDFs in it), and lets
 * a stream go once sent. Smaller bodies skip the stream's cost.
 */
const RELEASED_BODY_BYTES = 64 * 1024;

/**
 * The upstream: Gemini's REST API over two undici pools (streams on HTTP/2, unary calls and
 * streams past H2_UNANSWERED_BYTES on HTTP/1.1). Each call is an Observable of validated
 * GenerateContentResponse events; unsubscribing aborts the HTTP request, and the body is read
 * only while `flow` is open. Before the first answer byte a failed attempt is retried (connect
 * errors, 429, 5xx; never other 4xx) with jittered backoff that honours Retry-After and
 * RetryInfo, moving to another key of the pool where it can; after it, never.
 */
export class GeminiClient {
  /** streamGenerateContent, over HTTP/2. */
  readonly #streams: Pool;
  /** generateContent and the model list, over HTTP/1.1. */
  readonly #unary: Pool;
  readonly #basePath: string;
  readonly #keys: KeyPool;
  readonly #options: Required<
    Omit<GeminiClientOptions, "baseUrl" | "apiKeys" | "connections" | "connectTimeoutMs" | "h2c">
  >;
  #inflight = 0;
  /** Bytes of requests sent on `#streams` whose answers have not begun (see H2_UNANSWERED_BYTES). */
  #h2Unanswered = 0;
  /** Retries made, for metrics. */
  retries = 0;

  constructor(options: GeminiClientOptions) {
    const base = new URL(options.baseUrl);
    this.#basePath = base.pathname.replace(/\/+$/, "");
    this.#options = {
      firstByteTimeoutMs: options.firstByteTimeoutMs ?? 120_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
      maxStreamMs: options.maxStreamMs ?? 0,
      maxInflight: options.maxInflight ?? 1024,
      maxAttempts: options.maxAttempts ?? 3,
      maxRetryWaitMs: options.maxRetryWaitMs ?? 20_000,
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
    };
    this.#keys = new KeyPool(options.apiKeys, this.#options.now);
    const common = {
      connections: options.connections ?? this.#options.maxInflight,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      headersTimeout: this.#options.firstByteTimeoutMs,
      // Body silence is timed by readEvents, which does not count time spent paused for a
      // slow client (undici's own body timeout would).
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    };
    const h2c = { useH2c: options.h2c ?? false };
    // Streams go over HTTP/2: they share a few connections (about 6 KB per stream instead of a
    // socket each), and per-stream flow control is the backpressure: a stream paused for a
    // slow client lets Gemini send at most one window (here 128 KiB) ahead, where HTTP/1.1
    // would let megabytes pile up in kernel buffers. Node credits the connection window at
    // once, so one paused stream never stalls the others.
    this.#streams = new Pool(base.origin, {
      ...common,
      allowH2: true,
      // Pool reads useH2c at the top level (its types declare it only under h2Options), and
      // the stream window from initialWindowSize (h2Options.settings is not read).
      ...h2c,
      initialWindowSize: 128 * 1024,
      // Streams per connection: the server's SETTINGS decide (undici takes the lower of the
      // two; Google sends 100). undici's own default of 100 made a burst of calls to a server
      // that allows more wait for new connections, which the pool opens one at a time.
      maxConcurrentStreams: 1000,
    });
    // Unary answers are read whole at once, so flow control buys nothing, and Node's
    // HTTP/1.1 client costs less per request: 1.3–2.5× the unary rate here at c=8 to 32.
    this.#unary = new Pool(base.origin, { ...common, allowH2: false });
  }

  get inflight(): number {
    return this.#inflight;
  }

  get keyStates() {
    return this.#keys.states();
  }

  /**
   * `streamGenerateContent?alt=sse` when `stream`, else `generateContent` (one event). Either way
   * the same events, so the same translation follows.
   */
  generate(
    model: string,
    body: GenerateContentRequest,
    options: GenerateOptions,
  ): Observable<GenerateContentResponse> {
    const method = options.stream ? "streamGenerateContent?alt=sse" : "generateContent";
    const path = `${this.#basePath}/v1beta/models/${encodeURIComponent(model)}:${method}`;
    return new Observable<GenerateContentResponse>((subscriber) =>
      this.#call(path, body, options, subscriber),
    );
  }

  /**
   * One subscription's call. A method of its own so that the closures a stream keeps for its
   * whole life (timers, teardown) do not share a context with the request body: they held a
   * long prompt (images, PDFs) in memory until the answer ended.
   */
  #call(
    path: string,
    body: GenerateContentRequest,
    options: GenerateOptions,
    subscriber: Subscriber<GenerateContentResponse>,
  ): TeardownLogic {
    if (this.#inflight >= this.#options.maxInflight) {
      subscriber.error(
        new GatewayError("geminate is at capacity; retry shortly", Code.Unavailable, {
          retryAfterSeconds: 1,
          reason: "overloaded",
        }),
      );
      return;
    }
    this.#inflight++;
    const abort = new AbortController();
    /** Set when one of our own timers ended the call (as opposed to the caller leaving). */
    let timedOut: GatewayError | undefined;
    const timeout = (message: string) => {
      timedOut ??= new GatewayError(message, Code.DeadlineExceeded);
      abort.abort(timedOut);
    };
    const maxTimer =
      this.#options.maxStreamMs > 0
        ? setTimeout(
            () => timeout("the answer took longer than its maximum duration"),
            this.#options.maxStreamMs,
          )
        : undefined;
    /** The call ended on its own: nothing to abort at teardown (aborting allocates). */
    let settled = false;
    // A Buffer, not the string: undici copies a string body into a Buffer and keeps both.
    const payload = Buffer.from(JSON.stringify(body));
    this.#run(path, payload, options, abort.signal, timeout, subscriber).then(
      () => {
        settled = true;
        subscriber.complete();
      },
      (err: unknown) => {
        settled = true;
        if (timedOut) subscriber.error(timedOut);
        else if (!abort.signal.aborted) subscriber.error(transportError(err));
      },
    );
    return () => {
      this.#inflight--;
      clearTimeout(maxTimer);
      if (!settled) abort.abort();
    };
  }

  /** Every chat model the upstream lists (bare ids), following its pages. */
  async listModels(signal: AbortSignal): Promise<string[]> {
    const key = this.#keys.pick();
    if (!key) return [];
    const ids: string[] = [];
    const seen = new Set<string>();
    let pageToken = "";
    do {
      seen.add(pageToken);
      const query = `pageSize=1000${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ""}`;
      const response = Exchange.send(
        this.#unary,
        {
          method: "GET",
          path: `${this.#basePath}/v1beta/models?${query}`,
          headers: { "x-goog-api-key": key },
        },
        signal,
        MAX_BODY_BYTES,
      );
      await response.started;
      const text = await response.text();
      if (response.statusCode !== 200) throw upstreamError(response.statusCode, text);
      const page = modelsPageSchema.parse(JSON.parse(text));
      for (const m of page.models ?? []) {
        // Chat models only: embedding and Imagen models cannot answer generateContent.
        if (m.supportedGenerationMethods?.includes("generateContent") ?? true) {
          ids.push(m.name.replace(/^models\//, ""));
        }
      }
      pageToken = page.nextPageToken ?? "";
    } while (pageToken && !seen.has(pageToken) && seen.size < 50);
    return ids;
  }

  close(): Promise<void> {
    return Promise.all([this.#streams.close(), this.#unary.close()]).then(() => {});
  }

  async #run(
    path: string,
    body: Buffer,
    options: GenerateOptions,
    signal: AbortSignal,
    timeout: (message: string) => void,
    subscriber: Subscriber<GenerateContentResponse>,
  ): Promise<void> {
    const response = await this.#connect(path, body, options, signal);
    if (!options.stream) {
      subscriber.next(parseEvent(await response.text()));
      return;
    }
    // Returned, not awaited: this frame is not kept suspended for the stream's whole life.
    return readEvents(response, parseEvent, subscriber, {
      flow: options.flow,
      signal,
      firstEventMs: this.#options.firstByteTimeoutMs,
      idleMs: this.#options.idleTimeoutMs,
      onTimeout: timeout,
    });
  }

  /** Sends the request until an attempt answers 200, or fails in a way not worth retrying. */
  async #connect(
    path: string,
    body: Buffer,
    options: GenerateOptions,
    signal: AbortSignal,
  ): Promise<Exchange> {
    const failedKeys = new Set<string>();
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      // Prefer a key this call has not failed with; reuse one only after a transient error
      // (a key problem ends the call below when no other key is left).
      const key = this.#keys.pick(failedKeys) ?? this.#keys.pick();
      if (!key) {
        throw new GatewayError("no valid Gemini API key is left", Code.Unavailable, {
          reason: "no_upstream_key",
        });
      }
      const outcome = await this.#attempt(path, body, options, signal, key);
      if ("response" in outcome) return outcome.response;
      const { error, retryAfterMs } = outcome;
      failedKeys.add(key);
      if (!outcome.retryable || attempt >= this.#options.maxAttempts) throw error;
      const another = this.#keys.pick(failedKeys);
      // A key problem (invalid, daily quota) is only worth retrying on another key.
      // A fresh key needs no wait; the same key waits as long as Gemini asked, or backs off.
      let wait = 0;
      if (!another) {
        if (isKeyProblem(error)) throw error;
        const backoff = this.#options.random() * Math.min(4_000, 250 * 2 ** (attempt - 1));
        wait = Math.max(retryAfterMs ?? 0, backoff);
      }
      if (waited + wait > this.#options.maxRetryWaitMs) throw error;
      waited += wait;
      this.retries++;
      if (wait > 0) await sleep(wait, signal);
    }
  }

  /** One try with one key: the 200 response, or why it failed and whether a retry may help. */
  async #attempt(
    path: string,
    body: Buffer,
    options: GenerateOptions,
    signal: AbortSignal,
    key: string,
  ): Promise<
    | { response: Exchange }
    | { error: GatewayError; retryable: boolean; retryAfterMs?: number | undefined }
  > {
    let response: Exchange;
    const h2 = options.stream && this.#h2Unanswered + body.length <= H2_UNANSWERED_BYTES;
    if (h2) this.#h2Unanswered += body.length;
    try {
      response = Exchange.send(
        h2 ? this.#streams : this.#unary,
        {
          method: "POST",
          path,
          headers: {
            ...options.headers,
            "content-type": "application/json",
            "content-length": String(body.length),
            "x-goog-api-key": key,
            // Google APIs honour a server-side deadline: the caller's remaining time.
            ...(options.timeoutMs !== undefined && {
              "x-server-timeout": String(Math.max(1, Math.ceil(options.timeoutMs / 1000))),
            }),
          },
          body: options.stream && body.length >= RELEASED_BODY_BYTES ? released(body) : body,
        },
        signal,
        MAX_BODY_BYTES,
      );
      await response.started;
    } catch (err) {
      if (signal.aborted) throw err;
      // Refused or reset before any answer: worth another try; a timeout is not.
      const error = transportError(err);
      return { error, retryable: error.code === Code.Unavailable };
    } finally {
      if (h2) this.#h2Unanswered -= body.length;
    }
    if (response.statusCode === 200) return { response };
    const header = response.headers["retry-after"];
    const error = upstreamError(
      response.statusCode,
      await response.text(),
      typeof header === "string" ? header : undefined,
    );
    const after = error.metadata.get("retry-after");
    const retryAfterMs = after === null ? undefined : Number(after) * 1000;
    if (error.reason === "invalid_api_key") this.#keys.disable(key);
    else if (error.reason === "insufficient_quota") this.#keys.coolDown(key, DAILY_COOL_DOWN_MS);
    else if (response.statusCode === 429) {
      this.#keys.coolDown(key, retryAfterMs ?? DEFAULT_COOL_DOWN_MS);
    }
    const retryable = isKeyProblem(error) || RETRYABLE_STATUS.has(response.statusCode);
    return { error, retryable, retryAfterMs };
  }
}

function parseEvent(data: string): GenerateContentResponse {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (cause) {
    throw new GatewayError("Gemini sent a chunk that is not JSON", Code.Unknown, { cause });
  }
  const result = generateContentResponseSchema.safeParse(json);
  if (!result.success) {
    throw new GatewayError("Gemini sent a chunk of an unexpected shape", Code.Unknown, {
      cause: result.error,
    });
  }
  return result.data;
}

/** Network and timeout failures of the upstream call, in Code terms. */
function transportError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof ConnectError)
    return new GatewayError(err.rawMessage, err.code, { cause: err });
  const code = (err as { code?: string } | null)?.code ?? "";
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return new GatewayError("Gemini did not answer in time", Code.DeadlineExceeded, { cause: err });
  }
  return new GatewayError(
    "Gemini could not be reached or dropped the connection",
    Code.Unavailable,
    {
      cause: err,
    },
  );
}

/** Errors that belong to the key (invalid, daily quota), not to the call: only another key helps. */
function isKeyProblem(error: GatewayError): boolean {
  return error.reason === "invalid_api_key" || error.reason === "insufficient_quota";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A readable of `bytes` that lets go of them once read. */
function released(bytes: Buffer): Readable {
  let rest: Buffer | undefined = bytes;
  return new Readable({
    read() {
      this.push(rest ?? null);
      rest = undefined;
    },
  });
}
