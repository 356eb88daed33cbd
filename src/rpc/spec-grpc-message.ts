import type http from "node:http";
import type http2 from "node:http2";

type Headers = http.OutgoingHttpHeaders;

/**
 * connect-node percent-encodes `grpc-message` with encodeURIComponent, but @grpc/grpc-js decodes
 * it with decodeURI, which leaves %3A, %2C, %2F… encoded: "temperature%3A must be…". The gRPC
 * spec asks to encode only bytes outside 0x20–0x7E and "%", which every decoder reads back the
 * same, so the message is re-encoded that way on its way out.
 */
export function specGrpcMessage(res: http.ServerResponse | http2.Http2ServerResponse): void {
  const target = res as unknown as {
    writeHead(status: number, headers?: Headers): unknown;
    addTrailers(headers: Headers): void;
  };
  const writeHead = target.writeHead.bind(target);
  const addTrailers = target.addTrailers.bind(target);
  target.writeHead = (status, headers) => writeHead(status, headers && reencode(headers));
  target.addTrailers = (headers) => addTrailers(reencode(headers));
}

function reencode(headers: Headers): Headers {
  const message = headers["grpc-message"];
  if (typeof message !== "string") return headers;
  let decoded: string;
  try {
    decoded = decodeURIComponent(message);
  } catch {
    return headers;
  }
  return { ...headers, "grpc-message": encodeGrpcMessage(decoded) };
}

export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
