import { Code } from "@connectrpc/connect";
import { GatewayError } from "../core/gateway-error.ts";
import { type GeminiStatus, statusSchema } from "./wire.ts";

/** google.rpc.Code names, as Gemini puts them in `error.status`. */
type GoogleStatus =
  | "OK"
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

/**
 * Gemini status → Code. CANCELLED from upstream means Gemini dropped the call, not that our
 * caller left, so it is Unavailable; UNKNOWN is an upstream failure we cannot classify.
 */
const STATUS_CODES = {
  OK: Code.Unknown,
  CANCELLED: Code.Unavailable,
  UNKNOWN: Code.Unknown,
  INVALID_ARGUMENT: Code.InvalidArgument,
  DEADLINE_EXCEEDED: Code.DeadlineExceeded,
  NOT_FOUND: Code.NotFound,
  ALREADY_EXISTS: Code.AlreadyExists,
  PERMISSION_DENIED: Code.PermissionDenied,
  RESOURCE_EXHAUSTED: Code.ResourceExhausted,
  FAILED_PRECONDITION: Code.FailedPrecondition,
  ABORTED: Code.Aborted,
  OUT_OF_RANGE: Code.OutOfRange,
  UNIMPLEMENTED: Code.Unimplemented,
  INTERNAL: Code.Internal,
  UNAVAILABLE: Code.Unavailable,
  DATA_LOSS: Code.DataLoss,
  UNAUTHENTICATED: Code.Unauthenticated,
} as const satisfies Record<GoogleStatus, Code>;

/** When the body carries no status: the HTTP status alone. */
function codeOfHttpStatus(status: number): Code {
  if (status === 400) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.NotFound;
  if (status === 429) return Code.ResourceExhausted;
  if (status === 503) return Code.Unavailable;
  if (status === 504) return Code.DeadlineExceeded;
  if (status >= 500) return Code.Unknown;
  return Code.Unknown;
}

/** Gemini's error body (`{"error":{…}}`, or wrapped in an array) as a GatewayError. */
export function upstreamError(
  httpStatus: number,
  body: string,
  retryAfterHeader?: string,
): GatewayError {
  let status: GeminiStatus | undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const inner = Array.isArray(parsed) ? parsed[0] : parsed;
    const result = statusSchema.safeParse((inner as { error?: unknown } | null)?.error);
    if (result.success) status = result.data;
  } catch {
    // Not JSON (a proxy's HTML page, a cut body): the HTTP status alone speaks.
  }
  return statusError(status ?? {}, httpStatus, retryAfterHeader);
}

/** A google.rpc.Status (from an error body or from inside a stream) as a GatewayError. */
export function statusError(
  status: GeminiStatus,
  httpStatus?: number,
  retryAfterHeader?: string,
): GatewayError {
  const name = status.status ?? "";
  let code = Object.hasOwn(STATUS_CODES, name)
    ? STATUS_CODES[name as GoogleStatus]
    : codeOfHttpStatus(httpStatus ?? status.code ?? 500);
  const message = status.message ?? `Gemini answered HTTP ${httpStatus ?? status.code ?? "error"}`;
  let reason: string | undefined;
  let retryAfterSeconds: number | undefined;
  for (const detail of status.details ?? []) {
    const type = detail["@type"] ?? "";
    if (type.endsWith("google.rpc.ErrorInfo") && detail.reason === "API_KEY_INVALID") {
      code = Code.Unauthenticated;
      reason = "invalid_api_key";
    } else if (type.endsWith("google.rpc.RetryInfo") && typeof detail.retryDelay === "string") {
      retryAfterSeconds = parseDuration(detail.retryDelay);
    } else if (type.endsWith("google.rpc.QuotaFailure") && /PerDay/.test(JSON.stringify(detail))) {
      // A daily quota: no point retrying this key today (OpenAI calls it insufficient_quota).
      reason = "insufficient_quota";
    }
  }
  if (code === Code.ResourceExhausted) {
    reason ??= "rate_limit_exceeded";
    retryAfterSeconds ??= parseRetryAfter(retryAfterHeader);
  }
  if (code === Code.InvalidArgument && /exceeds the maximum number of tokens/i.test(message)) {
    reason = "context_length_exceeded";
  }
  return new GatewayError(message, code, {
    ...(reason !== undefined && { reason }),
    ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
  });
}

/** protobuf Duration JSON ("26s", "0.5s", "900ms" seen in the wild) → seconds. */
function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  return m[2] === "ms" ? value / 1000 : value;
}

function parseRetryAfter(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
