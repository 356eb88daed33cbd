import type { ConnectError } from "@connectrpc/connect";
import { GatewayError } from "../core/gateway-error.ts";
import { httpErrorOf } from "./map-code.ts";

/** An error ready to send: status, headers and the OpenAI error body. */
export interface RenderedError {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: {
    error: { message: string; type: string; param: string | null; code: string | null };
  };
}

/** Any error as OpenAI renders one: `{"error":{"message","type","param","code"}}`. */
export function renderError(err: ConnectError): RenderedError {
  const http = httpErrorOf(err.code);
  const headers: Record<string, string> = { "x-should-retry": String(http.retry) };
  const retryAfter = err.metadata.get("retry-after");
  if (retryAfter !== null) headers["retry-after"] = retryAfter;
  const gateway = err instanceof GatewayError ? err : undefined;
  return {
    status: http.status,
    headers,
    body: {
      error: {
        message: err.rawMessage,
        type: http.type,
        param: gateway?.param ?? null,
        code: gateway?.reason ?? null,
      },
    },
  };
}
