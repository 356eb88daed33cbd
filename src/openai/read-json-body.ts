import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { Code } from "@connectrpc/connect";
import { GatewayError } from "../core/gateway-error.ts";

/**
 * Reads and parses a JSON request body, refusing it with 413 as soon as it passes `limit`
 * bytes (announced or actually read), so a huge body is never buffered whole.
 */
export async function readJsonBody(
  req: IncomingMessage | Http2ServerRequest,
  limit: number,
): Promise<unknown> {
  const tooLarge = () =>
    new GatewayError(`The request body is larger than ${limit} bytes`, Code.ResourceExhausted, {
      reason: "request_too_large",
    });
  if (Number(req.headers["content-length"] ?? 0) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
  } catch (err) {
    throw new GatewayError(
      `The request body is not valid JSON: ${(err as Error).message}`,
      Code.InvalidArgument,
      { param: "body", reason: "invalid_json" },
    );
  }
}
