import { Code, ConnectError } from "@connectrpc/connect";

export interface GatewayErrorOptions {
  /** JSON path of the offending request field, e.g. "messages[0].role". */
  param?: string;
  /** Machine-readable reason, rendered as the OpenAI error `code` (e.g. "model_not_found"). */
  reason?: string;
  /** Seconds the caller should wait before retrying; sent as `retry-after`. */
  retryAfterSeconds?: number;
  /** Kept for logs, never sent to clients. */
  cause?: unknown;
}

/**
 * The one error type of geminate: a ConnectError (so every protocol renders its Code) that also
 * carries what the OpenAI facade needs to render it (param, reason, retry-after).
 */
export class GatewayError extends ConnectError {
  // ConnectError recognises its instances by name (across package copies), so the name stays
  // "ConnectError"; GatewayError's own instanceof goes by the prototype chain instead.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === "object" &&
      value !== null &&
      Object.prototype.isPrototypeOf.call(GatewayError.prototype, value)
    );
  }

  readonly param: string | null;
  readonly reason: string | null;

  constructor(message: string, code: Code, options: GatewayErrorOptions = {}) {
    const metadata = new Headers();
    if (options.retryAfterSeconds !== undefined) {
      metadata.set("retry-after", String(Math.max(0, Math.ceil(options.retryAfterSeconds))));
    }
    super(message, code, metadata, undefined, options.cause);
    this.param = options.param ?? null;
    this.reason = options.reason ?? null;
  }
}

export function invalidArgument(param: string, message: string): GatewayError {
  return new GatewayError(`${param}: ${message}`, Code.InvalidArgument, { param });
}

/** Any thrown value as a ConnectError; an unknown value becomes Internal with the value as cause. */
export function toConnectError(reason: unknown): ConnectError {
  return ConnectError.from(reason, Code.Internal);
}
