import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { Readable } from "node:stream";
import zlib from "node:zlib";
import { Code } from "@connectrpc/connect";
import sjson from "secure-json-parse";
import { GatewayError } from "../core/gateway-error.ts";

/** Deepest nesting accepted in a request body (OpenAI requests need about 10). */
const MAX_DEPTH = 64;

/**
 * Reads and parses a JSON request body. The size cap counts decoded bytes (after gzip, deflate
 * or br) as they arrive, so a huge or bomb body is refused with 413 without being buffered;
 * `__proto__`/`constructor.prototype` keys and nesting deeper than 64 are 400s.
 */
export async function readJsonBody(
  req: IncomingMessage | Http2ServerRequest,
  limit: number,
): Promise<unknown> {
  const tooLarge = () =>
    new GatewayError(`The request body is larger than ${limit} bytes`, Code.ResourceExhausted, {
      reason: "request_too_large",
    });
  const encoding = String(req.headers["content-encoding"] ?? "identity").toLowerCase();
  if (encoding === "identity" && Number(req.headers["content-length"] ?? 0) > limit)
    throw tooLarge();
  const decoded = decode(req, encoding);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of decoded) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw new GatewayError("The request body could not be decoded", Code.InvalidArgument, {
      param: "body",
      reason: "invalid_body",
    });
  } finally {
    if (decoded !== req) decoded.destroy();
  }
  let value: unknown;
  try {
    value = sjson.parse(Buffer.concat(chunks, size).toString("utf8"), undefined, {
      protoAction: "error",
      constructorAction: "error",
    });
  } catch (err) {
    throw new GatewayError(
      `The request body is not valid JSON: ${(err as Error).message}`,
      Code.InvalidArgument,
      {
        param: "body",
        reason: "invalid_json",
      },
    );
  }
  if (depthOf(value) > MAX_DEPTH) {
    throw new GatewayError(
      `The request body is nested deeper than ${MAX_DEPTH} levels`,
      Code.InvalidArgument,
      {
        param: "body",
        reason: "invalid_json",
      },
    );
  }
  return value;
}

function decode(req: IncomingMessage | Http2ServerRequest, encoding: string): Readable {
  switch (encoding) {
    case "identity":
      return req;
    case "gzip":
    case "x-gzip":
      return req.pipe(zlib.createGunzip());
    case "deflate":
      return req.pipe(zlib.createInflate());
    case "br":
      return req.pipe(zlib.createBrotliDecompress());
    default:
      throw new GatewayError(
        `Content-Encoding ${encoding} is not supported`,
        Code.InvalidArgument,
        {
          param: "body",
          reason: "invalid_body",
        },
      );
  }
}

/** Nesting depth, without recursion (a deep body must not overflow the stack). */
function depthOf(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > max) max = depth;
    if (max > MAX_DEPTH) return max;
    for (const child of Array.isArray(value) ? value : Object.values(value))
      stack.push([child, depth + 1]);
  }
  return max;
}
