import type http from "node:http";
import type http2 from "node:http2";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as connectProtocol from "@connectrpc/connect/protocol-connect";
import * as grpcProtocol from "@connectrpc/connect/protocol-grpc";
import type { Chat } from "../core/chat.ts";
import {
  ChatService,
  type CompleteRequest,
  CompleteRequestSchema,
  CompletionChunkSchema,
} from "../gen/geminate/v1/chat_pb.js";
import type { CallRecord } from "../server/call-record.ts";
import type { ChatCalls } from "../server/chat-calls.ts";
import { drained } from "../server/drained.ts";
import type { ShutdownFanout } from "../server/shutdown-fanout.ts";
import { TurnCork } from "../server/turn-cork.ts";

export interface DirectStreamOptions {
  chat: Chat;
  calls: ChatCalls;
  /** The cap on the request message, as connect-node's readMaxBytes. */
  maxBodyBytes: number;
  /** As connect-node's maxTimeoutMs (longer deadlines are left to it, and it refuses them). */
  maxTimeoutMs: number;
  /** Ends every call still running when the shutdown grace period is over. */
  shutdown: ShutdownFanout;
}

type Request = http.IncomingMessage | http2.Http2ServerRequest;
/** What this path uses of an HTTP/1.1 or HTTP/2 compatibility response. */
interface Response {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: Uint8Array): boolean;
  addTrailers(headers: Record<string, string>): void;
  end(): unknown;
  end(chunk: Uint8Array): unknown;
  cork(): void;
  uncork(): void;
  readonly socket: { cork(): void; uncork(): void } | null;
  on(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
}

/** What differs between the two protocols: headers in, and how the call's status goes out. */
interface Protocol {
  name: "grpc" | "connect";
  contentType: string;
  /** The deadline header's value in ms; an error when it is malformed or too long. */
  timeout(value: string | undefined): { timeoutMs?: number; error?: ConnectError };
  /** Writes the call's end (trailers and status) after the headers, and ends the response. */
  end(res: Response, trailer: Headers, error: ConnectError | undefined): void;
}

const grpc: Protocol = {
  name: "grpc",
  contentType: grpcProtocol.contentTypeProto,
  timeout: (value) => grpcProtocol.parseTimeout(value ?? null, Number.POSITIVE_INFINITY),
  end(res, trailer, error) {
    grpcProtocol.setTrailerStatus(trailer, error);
    // The response went through specGrpcMessage: grpc-message is re-encoded to the spec's rules.
    res.addTrailers(Object.fromEntries(trailer));
    res.end();
  },
};

const endStream = connectProtocol.createEndStreamSerialization(undefined);
const connect: Protocol = {
  name: "connect",
  contentType: connectProtocol.contentTypeStreamProto,
  timeout: (value) => connectProtocol.parseTimeout(value ?? null, Number.POSITIVE_INFINITY),
  end(res, trailer, error) {
    res.end(
      envelope(connectProtocol.endStreamFlag, endStream.serialize({ metadata: trailer, error })),
    );
  },
};

const PATH = `/${ChatService.typeName}/${ChatService.method.streamComplete.name}`;

/**
 * ChatService.StreamComplete over gRPC and Connect, served without connect-node's per-message
 * pipeline. That pipeline passes each message through about eight async-generator stages (its
 * package ships them compiled to ES2017 helpers) and a promise per write, and it halved the
 * frames a core could carry against the SSE path. Here a frame is encoded and written in one
 * step; `chat.stream` still pulls with backpressure (a full window or socket waits for `drain`).
 * Only plain calls are taken: binary, uncompressed, with a deadline the server accepts. Anything
 * else (JSON, compression, gRPC-Web, a bad deadline) goes to connect-node, which answers it; the
 * statuses, trailers and end-of-stream messages are made with connect's own protocol helpers.
 */
export function directStreamComplete(options: DirectStreamOptions) {
  const { chat, calls, maxBodyBytes, maxTimeoutMs, shutdown } = options;

  /** The protocol and deadline of a call this path takes, or undefined for connect-node's. */
  function take(req: Request): { protocol: Protocol; timeoutMs: number | undefined } | undefined {
    if (req.url !== PATH || req.method !== "POST") return undefined;
    const h = req.headers;
    const type = h["content-type"];
    let protocol: Protocol;
    let encoding: string | string[] | undefined;
    let timeout: string | string[] | undefined;
    if ((type === "application/grpc" || type === grpc.contentType) && req.httpVersionMajor === 2) {
      protocol = grpc;
      encoding = h["grpc-encoding"];
      timeout = h["grpc-timeout"];
    } else if (type === connect.contentType) {
      const version = h["connect-protocol-version"];
      if (version !== undefined && version !== "1") return undefined;
      protocol = connect;
      encoding = h["connect-content-encoding"];
      timeout = h["connect-timeout-ms"];
    } else return undefined;
    if (encoding !== undefined && encoding !== "identity") return undefined;
    if (Array.isArray(timeout)) return undefined;
    const { timeoutMs, error } = protocol.timeout(timeout);
    if (error || (timeoutMs !== undefined && timeoutMs > maxTimeoutMs)) return undefined;
    return { protocol, timeoutMs };
  }

  async function serve(
    req: Request,
    res: Response,
    closed: () => boolean,
    protocol: Protocol,
    timeoutMs: number | undefined,
  ): Promise<void> {
    const call = new AbortController();
    const abort = (reason: ConnectError) => {
      if (!call.signal.aborted) call.abort(reason);
    };
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
            timeoutMs,
          );
    const ended = () => abort(ConnectError.from(shutdown.signal.reason));
    let finished = false;
    const gone = () => {
      if (!finished) abort(new ConnectError("the call was cancelled", Code.Canceled));
    };
    res.on("close", gone);
    shutdown.add(ended);
    const trailer = new Headers();
    const head = () => {
      if (!res.headersSent) res.writeHead(200, { "content-type": protocol.contentType });
    };
    const cork = new TurnCork(res);
    let record: CallRecord | undefined;
    let error: ConnectError | undefined;
    try {
      const h = req.headers;
      record = calls.begin(protocol.name, "StreamComplete", (name) => firstOf(h[name]), h);
      res.setHeader("x-request-id", record.id);
      const request = await readRequest(req, maxBodyBytes, call.signal);
      record.model = request.model;
      const frames = chat.stream(request, call.signal, {
        timeoutMs: deadline === undefined ? undefined : deadline - performance.now(),
        headers: record.upstreamHeaders,
      });
      for await (const frame of frames) {
        calls.frame(record, frame, trailer);
        head();
        cork.hold();
        if (!res.write(envelope(0, toBinary(CompletionChunkSchema, frame)))) await drained(res);
        if (call.signal.aborted) throw call.signal.reason;
      }
    } catch (err) {
      // As connect-node: only a ConnectError's message reaches the caller.
      error =
        err instanceof ConnectError
          ? err
          : new ConnectError("internal error", Code.Internal, undefined, undefined, err);
      if (record) record.error = err;
    } finally {
      finished = true;
      cork.release();
      clearTimeout(timer);
      res.off("close", gone);
      shutdown.delete(ended);
      if (!closed()) {
        head();
        protocol.end(res, trailer, error);
      }
      if (record) calls.end(record, call.signal);
    }
  }

  /** Serves the call and returns true, or returns false and leaves it to connect-node. */
  return (req: Request, res: http.ServerResponse | http2.Http2ServerResponse): boolean => {
    const taken = take(req);
    if (!taken) return false;
    const closed = () => ("stream" in res ? res.stream.destroyed : res.destroyed);
    void serve(req, res, closed, taken.protocol, taken.timeoutMs);
    return true;
  };
}

/** The one request message: a 5-byte envelope (flags, length) and its protobuf bytes. */
async function readRequest(
  req: Request,
  maxBytes: number,
  signal: AbortSignal,
): Promise<CompleteRequest> {
  const body = await new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const settle = (err?: unknown) => {
      req.off("data", data).off("end", end).off("error", settle);
      signal.removeEventListener("abort", aborted);
      if (err === undefined) resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      else reject(err);
    };
    const data = (part: Buffer) => {
      size += part.length;
      parts.push(part);
      if (size > maxBytes + 5) {
        const declared = parts[0]!.length >= 5 ? parts[0]!.readUInt32BE(1) : size - 5;
        settle(
          new ConnectError(
            `message size ${declared} is larger than configured readMaxBytes ${maxBytes}`,
            Code.ResourceExhausted,
          ),
        );
      }
    };
    const end = () => settle();
    const aborted = () => settle(signal.reason);
    if (signal.aborted) return aborted();
    req.on("data", data).once("end", end).once("error", settle);
    signal.addEventListener("abort", aborted, { once: true });
  });
  if (body.length === 0) {
    throw new ConnectError(
      "protocol error: missing input message for server-streaming method",
      Code.Unimplemented,
    );
  }
  const length = body.length >= 5 ? body.readUInt32BE(1) : Number.POSITIVE_INFINITY;
  if (body.length < 5 + length) {
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
  if (body.length > 5 + length) {
    throw new ConnectError(
      "protocol error: received extra input message for server-streaming method",
      Code.Unimplemented,
    );
  }
  if (body[0] !== 0) {
    throw new ConnectError(
      "protocol error: received a compressed or end-of-stream envelope where a message belongs",
      Code.InvalidArgument,
    );
  }
  try {
    return fromBinary(CompleteRequestSchema, body.subarray(5));
  } catch (err) {
    // Bytes that are not a CompleteRequest are the caller's fault (connect-node says Internal).
    throw new ConnectError(
      `parse binary: ${err instanceof Error ? err.message : String(err)}`,
      Code.InvalidArgument,
    );
  }
}

function envelope(flags: number, message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
