import { Code } from "@connectrpc/connect";
import { GatewayError } from "../core/gateway-error.ts";

/** A token bucket: `capacity` tokens, refilled at `capacity` per minute. */
class Bucket {
  #tokens: number;
  #at: number;
  readonly #capacity: number;

  constructor(capacity: number, now: number) {
    this.#tokens = capacity;
    this.#capacity = capacity;
    this.#at = now;
  }

  /** Tokens now (may be negative after charging more than was left). */
  level(now: number): number {
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + ((now - this.#at) * this.#capacity) / 60_000,
    );
    this.#at = now;
    return this.#tokens;
  }

  take(n: number, now: number): void {
    this.level(now);
    this.#tokens -= n;
  }

  /** Seconds until the level is at least `n`. */
  secondsUntil(n: number, now: number): number {
    const missing = n - this.level(now);
    return missing <= 0 ? 0 : (missing * 60) / this.#capacity;
  }
}

/**
 * Per-client-key limits: requests per minute, and tokens per minute checked before a call and
 * charged from its usage after (so one call may overshoot; the next waits). Per process: with
 * several replicas each enforces its own share.
 */
export class RateLimiter {
  readonly #rpm: number;
  readonly #tpm: number;
  readonly #now: () => number;
  readonly #requests = new Map<string, Bucket>();
  readonly #tokens = new Map<string, Bucket>();

  constructor(
    limits: { requestsPerMinute: number; tokensPerMinute: number },
    now: () => number = Date.now,
  ) {
    this.#rpm = limits.requestsPerMinute;
    this.#tpm = limits.tokensPerMinute;
    this.#now = now;
  }

  /** Admits one call for `client`, or throws 429 with the wait. */
  admit(client: string): void {
    const now = this.#now();
    if (this.#tpm > 0) {
      const tokens = this.#bucket(this.#tokens, client, this.#tpm, now);
      if (tokens.level(now) <= 0) throw limited("tokens", tokens.secondsUntil(1, now));
    }
    if (this.#rpm > 0) {
      const requests = this.#bucket(this.#requests, client, this.#rpm, now);
      if (requests.level(now) < 1) throw limited("requests", requests.secondsUntil(1, now));
      requests.take(1, now);
    }
  }

  /** Charges a finished call's tokens. */
  charge(client: string, tokens: number): void {
    if (this.#tpm <= 0 || tokens <= 0) return;
    const now = this.#now();
    this.#bucket(this.#tokens, client, this.#tpm, now).take(tokens, now);
  }

  #bucket(map: Map<string, Bucket>, client: string, capacity: number, now: number): Bucket {
    let bucket = map.get(client);
    if (!bucket) {
      bucket = new Bucket(capacity, now);
      map.set(client, bucket);
    }
    return bucket;
  }
}

function limited(what: string, seconds: number): GatewayError {
  return new GatewayError(
    `Rate limit reached for ${what} per minute on this key`,
    Code.ResourceExhausted,
    {
      reason: "rate_limit_exceeded",
      retryAfterSeconds: Math.max(1, seconds),
    },
  );
}
