import type { ConnectError } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { GatewayError } from "../core/gateway-error.ts";
import { renderError } from "./render-error.ts";

/** What the facade uses of an HTTP/1.1 or HTTP/2 compat response (their union is not callable). */
export interface NodeResponse {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(chunk: string): unknown;
  on(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
  cork(): void;
  uncork(): void;
  readonly socket: { cork(): void; uncork(): void } | null;
}

export function sendJson(
  res: NodeResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(json)),
  });
  res.end(json);
}

export function sendError(res: NodeResponse, err: ConnectError): void {
  if (res.headersSent || res.writableEnded) return;
  // 413 is the HTTP answer to an oversized body; on gRPC the same error is ResourceExhausted.
  const rendered = renderError(err);
  const status =
    err instanceof GatewayError && err.reason === "request_too_large" ? 413 : rendered.status;
  sendJson(res, status, rendered.body, rendered.headers);
}

export function notFound(res: NodeResponse, what: string): void {
  sendError(res, new GatewayError(`${what} not found`, Code.NotFound, { reason: "not_found" }));
}
