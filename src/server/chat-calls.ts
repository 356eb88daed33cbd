import { Code, ConnectError } from "@connectrpc/connect";
import { carriesToken } from "../core/frames.ts";
import type { CompletionChunk, Usage } from "../gen/geminate/v1/chat_pb.js";
import type { CallObserver, CallRecord } from "./call-record.ts";
import type { ClientKeys } from "./client-keys.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { requestId } from "./request-id.ts";

type Protocol = "grpc" | "grpc-web" | "connect";

/**
 * The bookkeeping of a ChatService call, whichever server path carries it: the client key
 * (health and reflection stay open: probes and tools carry no keys), the rate limit, the call's
 * record with its usage and first token, and usage trailers.
 */
export class ChatCalls {
  readonly #observer: CallObserver;
  readonly #clientKeys: ClientKeys;
  readonly #limiter: RateLimiter | undefined;

  constructor(observer: CallObserver, clientKeys: ClientKeys, limiter: RateLimiter | undefined) {
    this.#observer = observer;
    this.#clientKeys = clientKeys;
    this.#limiter = limiter;
  }

  /** Opens the call's record and admits the caller; a refused call is ended and thrown. */
  begin(
    protocol: Protocol,
    method: string,
    header: (name: string) => string | null | undefined,
    carrier: Record<string, string | string[] | undefined> | Headers,
  ): CallRecord {
    const record = this.#observer.begin(
      {
        id: requestId(header("x-request-id")),
        protocol,
        route: `/geminate.v1.ChatService/${method}`,
      },
      carrier,
    );
    try {
      record.client = this.#clientKeys.identify(header("authorization") ?? undefined);
      if (record.client === undefined)
        throw new ConnectError("a valid API key is required", Code.Unauthenticated);
      if (method !== "ListModels") this.#limiter?.admit(record.client);
      return record;
    } catch (err) {
      record.error = err;
      this.end(record);
      throw err;
    }
  }

  /** A frame on its way out: the first token's time, and its usage (also in the trailers). */
  frame(record: CallRecord, chunk: CompletionChunk, trailer: Headers): void {
    if (record.firstToken === undefined && carriesToken(chunk))
      record.firstToken = performance.now();
    if (chunk.usage) {
      record.usage = chunk.usage;
      setUsageTrailers(trailer, chunk.usage);
    }
  }

  /** The call is over: its tokens are charged and its line logged. */
  end(record: CallRecord, signal?: AbortSignal): void {
    if (record.usage) this.#limiter?.charge(record.client ?? "anonymous", record.usage.totalTokens);
    record.cancelled =
      signal?.aborted === true && ConnectError.from(signal.reason).code === Code.Canceled;
    this.#observer.end(record);
  }
}

/** ChatService usage also travels in trailers, for proxies and callers that read only metadata. */
export function setUsageTrailers(trailer: Headers, usage: Usage): void {
  trailer.set("geminate-usage-prompt-tokens", String(usage.promptTokens));
  trailer.set("geminate-usage-completion-tokens", String(usage.completionTokens));
  trailer.set("geminate-usage-total-tokens", String(usage.totalTokens));
  trailer.set("geminate-usage-reasoning-tokens", String(usage.reasoningTokens));
}
