import { Code } from "@connectrpc/connect";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { Observable, type Subscriber } from "rxjs";
import { type Dispatcher, Pool } from "undici";
import type { Flow } from "../core/flow.ts";
import { GatewayError } from "../core/gateway-error.ts";
import { upstreamError } from "./map-status.ts";
import {
  type GenerateContentRequest,
  type GenerateContentResponse,
  generateContentResponseSchema,
  modelsPageSchema,
} from "./wire.ts";

export interface GeminiClientOptions {
  /** Origin (and optional path prefix) of the Gemini API. */
  baseUrl: string;
  /** Sent in `x-goog-api-key` only: never in a URL, never logged. */
  apiKey: string;
  /** Pooled connections to the upstream. */
  connections?: number;
  /** Time to connect to the upstream. */
  connectTimeoutMs?: number;
  /** Time from request to response headers. */
  headersTimeoutMs?: number;
  /** Longest silence between two body reads. */
  bodyTimeoutMs?: number;
}

/** Largest error body or unary answer read into memory (an image answer can be large). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Largest single SSE event (one image chunk holds a whole base64 picture). */
const MAX_EVENT_BYTES = 64 * 1024 * 1024;

/**
 * The upstream: Gemini's REST API over one pooled undici client. Each call is an Observable of
 * validated GenerateContentResponse events; unsubscribing aborts the HTTP request, and the body
 * is read only while `flow` is open.
 */
export class GeminiClient {
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #apiKey: string;

  constructor(options: GeminiClientOptions) {
    const base = new URL(options.baseUrl);
    this.#basePath = base.pathname.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.#pool = new Pool(base.origin, {
      connections: options.connections ?? 256,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      headersTimeout: options.headersTimeoutMs ?? 300_000,
      bodyTimeout: options.bodyTimeoutMs ?? 300_000,
      keepAliveTimeout: 30_000,
    });
  }

  /**
   * `streamGenerateContent?alt=sse` when `stream`, else `generateContent` (one event). Either way
   * the same events, so the same translation follows.
   */
  generate(
    model: string,
    body: GenerateContentRequest,
    options: { stream: boolean; flow: Flow; timeoutMs?: number | undefined },
  ): Observable<GenerateContentResponse> {
    const method = options.stream ? "streamGenerateContent?alt=sse" : "generateContent";
    const path = `${this.#basePath}/v1beta/models/${encodeURIComponent(model)}:${method}`;
    return new Observable<GenerateContentResponse>((subscriber) => {
      const abort = new AbortController();
      this.#run(path, JSON.stringify(body), options, abort.signal, subscriber).then(
        () => subscriber.complete(),
        (err: unknown) => {
          if (!abort.signal.aborted) subscriber.error(transportError(err));
        },
      );
      return () => abort.abort();
    });
  }

  /** Every model the upstream lists (bare ids), following its pages. */
  async listModels(signal: AbortSignal): Promise<string[]> {
    const ids: string[] = [];
    const seen = new Set<string>();
    let pageToken = "";
    do {
      seen.add(pageToken);
      const query = `pageSize=1000${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ""}`;
      const response = await this.#pool.request({
        method: "GET",
        path: `${this.#basePath}/v1beta/models?${query}`,
        headers: { "x-goog-api-key": this.#apiKey },
        signal,
      });
      const text = await readText(response.body, MAX_BODY_BYTES);
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
    return this.#pool.close();
  }

  async #run(
    path: string,
    body: string,
    options: { stream: boolean; flow: Flow; timeoutMs?: number | undefined },
    signal: AbortSignal,
    subscriber: Subscriber<GenerateContentResponse>,
  ): Promise<void> {
    const response = await this.#pool.request({
      method: "POST",
      path,
      headers: {
        "content-type": "application/json",
        "x-goog-api-key": this.#apiKey,
        // Google APIs honour a server-side deadline; the caller's remaining time, passed on.
        ...(options.timeoutMs !== undefined && {
          "x-server-timeout": String(Math.max(1, Math.ceil(options.timeoutMs / 1000))),
        }),
      },
      body,
      signal,
    });
    if (response.statusCode !== 200) {
      const text = await readText(response.body, MAX_BODY_BYTES);
      const retryAfter = response.headers["retry-after"];
      throw upstreamError(
        response.statusCode,
        text,
        typeof retryAfter === "string" ? retryAfter : undefined,
      );
    }
    if (!options.stream) {
      subscriber.next(parseEvent(await readText(response.body, MAX_BODY_BYTES)));
      return;
    }
    await readEvents(response.body, options.flow, signal, subscriber);
  }
}

/** Reads an SSE body, pausing between reads while the consumer is full. */
async function readEvents(
  body: Dispatcher.ResponseData["body"],
  flow: Flow,
  signal: AbortSignal,
  subscriber: Subscriber<GenerateContentResponse>,
): Promise<void> {
  // Lines that are not SSE fields: Gemini appends a bare JSON error object mid-stream.
  let stray = "";
  let failure: unknown;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_BYTES,
    onEvent(event: EventSourceMessage) {
      if (failure === undefined && !subscriber.closed) {
        try {
          subscriber.next(parseEvent(event.data));
        } catch (err) {
          failure = err;
        }
      }
    },
    onError(error) {
      if (error.type === "unknown-field" && error.line !== undefined) stray += `${error.line}\n`;
      else
        failure ??= new GatewayError(`Gemini stream is malformed: ${error.message}`, Code.Unknown);
    },
  });
  const decoder = new TextDecoder();
  for await (const bytes of body) {
    parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
    if (failure !== undefined) throw failure;
    if (flow.paused) await flow.ready(signal);
    if (signal.aborted || subscriber.closed) return;
  }
  // A body that ends without the blank line after its last event still delivers that event.
  parser.feed(`${decoder.decode()}\n\n`);
  if (failure !== undefined) throw failure;
  if (stray.trim()) throw upstreamError(200, stray);
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

async function readText(body: Dispatcher.ResponseData["body"], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new GatewayError("Gemini's answer is too large", Code.Unknown);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Network and timeout failures of the upstream call, in Code terms. */
function transportError(err: unknown): unknown {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string } | null)?.code ?? "";
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return new GatewayError("Gemini did not answer in time", Code.DeadlineExceeded, {
      cause: err,
    });
  }
  return new GatewayError(
    "Gemini could not be reached or dropped the connection",
    Code.Unavailable,
    {
      cause: err,
    },
  );
}
