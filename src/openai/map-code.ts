import { Code } from "@connectrpc/connect";

export interface HttpError {
  readonly status: number;
  /** OpenAI error `type`. */
  readonly type: string;
  /** Whether an OpenAI SDK should retry (it reads `x-should-retry`). */
  readonly retry: boolean;
}

/**
 * Code → HTTP status and OpenAI error type: the one table the OpenAI facade renders errors with.
 * Unknown is an upstream failure we cannot classify (a dropped or malformed stream): 502.
 */
const HTTP_ERRORS = {
  [Code.Canceled]: { status: 499, type: "invalid_request_error", retry: false },
  [Code.Unknown]: { status: 502, type: "server_error", retry: true },
  [Code.InvalidArgument]: { status: 400, type: "invalid_request_error", retry: false },
  [Code.DeadlineExceeded]: { status: 504, type: "server_error", retry: true },
  [Code.NotFound]: { status: 404, type: "invalid_request_error", retry: false },
  [Code.AlreadyExists]: { status: 409, type: "invalid_request_error", retry: false },
  [Code.PermissionDenied]: { status: 403, type: "permission_error", retry: false },
  [Code.ResourceExhausted]: { status: 429, type: "rate_limit_exceeded", retry: true },
  [Code.FailedPrecondition]: { status: 400, type: "invalid_request_error", retry: false },
  [Code.Aborted]: { status: 409, type: "server_error", retry: true },
  [Code.OutOfRange]: { status: 400, type: "invalid_request_error", retry: false },
  [Code.Unimplemented]: { status: 501, type: "invalid_request_error", retry: false },
  [Code.Internal]: { status: 500, type: "server_error", retry: true },
  [Code.Unavailable]: { status: 503, type: "server_error", retry: true },
  [Code.DataLoss]: { status: 500, type: "server_error", retry: false },
  [Code.Unauthenticated]: { status: 401, type: "authentication_error", retry: false },
} as const satisfies Record<Code, HttpError>;

export function httpErrorOf(code: Code): HttpError {
  return HTTP_ERRORS[code];
}
