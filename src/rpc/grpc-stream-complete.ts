import type http from "node:http";
import type http2 from "node:http2";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Chat } from "../core/chat.ts";
import {
  ChatService,
  type CompleteRequest,
  CompleteRequestSchema,
  CompletionChunkSchema,
} from "../gen/geminate/v1/chat_pb.js";
import type { CallRecord } from "../server/call-record.ts";
import { type ChatCalls, usageTrailers } from "../server/chat-calls.ts";
import { encodeGrpcMessage } from "./spec-grpc-message.ts";

export interface GrpcStreamOptions {
  chat: Chat;
  calls: ChatCalls;
  /** The cap on the request message, as connect-node's readMaxBytes. */
  maxBodyBytes: number;
  /** Longer deadlines are left to connect-node, which refuses them. */
  maxTimeoutMs: number;
  /** Aborted when the shutdown grace period is over. */
  shutdownSignal: AbortSignal;
}

const PATH = `/${ChatService.typeName}/${ChatService.method.streamComplete.name}`;
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/**
 * ChatService.StreamComplete over gRPC, served without connect-node's per-message pipeline: it
 * passes each message through eight ES2017 async-generator stages and a promise per write, and
 * that halved the frames a core could carry against the SSE path. Here a frame is encoded and
 * written in one step; `chat.stream` still pulls with backpressure (a full HTTP/2 window waits
 * for `drain`). Only plain calls are taken: HTTP/2, binary, uncompressed, with a valid deadline
 * within the limit. Anything else (gRPC-Web, Connect, compression, a bad `grpc-timeout`) goes
 * to connect-node, which answers it the same way.
 */
export function grpcStreamComplete(options: GrpcStreamOptions) {
  const { chat, calls, maxBodyBytes, maxTimeoutMs, shutdownSignal } = options;
  return (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): boolean => {
    const h = req.headers;
    if (req.url !== PATH || req.httpVersionMajor !== 2 || req.method !== "POST") return false;
    const type = h["content-type"];
    if (type !== "application/grpc" && type !== "application/grpc+proto") return false;
    const encoding = h["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    let timeoutMs: number | undefined;
    const timeout = h["grpc-timeout"];
    if (timeout !== undefined) {
      const m = TIMEOUT.exec(firstOf(timeout) ?? "");
      if (!m) return false;
      timeoutMs = Number(m[1]) * UNIT_MS[m[2]!]!;
      if (timeoutMs > maxTimeoutMs) return false;
    }
    void serve(req as http2.Http2ServerRequest, res as http2.Http2ServerResponse, timeoutMs);
    return true;
  };

  async function serve(
    req: http2.Http2ServerRequest,
    res: http2.Http2ServerResponse,
    timeoutMs: number | undefined,
  ): Promise<void> {
    const h = req.headers;
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
    const shutdown = () =>
      abort(ConnectError.from(shutdownSignal.reason ?? "the server is shutting down"));
    let finished = false;
    const gone = () => {
      if (!finished) abort(new ConnectError("the call was cancelled", Code.Canceled));
    };
    res.once("close", gone);
    shutdownSignal.addEventListener("abort", shutdown, { once: true });
    const trailers: Record<string, string> = {};
    let record: CallRecord | undefined;
    let error: ConnectError | undefined;
    try {
      record = calls.begin("grpc", "StreamComplete", (name) => firstOf(h[name]), h);
      res.setHeader("x-request-id", record.id);
      const request = await readRequest(req, maxBodyBytes, call.signal);
      record.model = request.model;
      const frames = chat.stream(request, call.signal, {
        timeoutMs: deadline === undefined ? undefined : deadline - performance.now(),
        headers: record.upstreamHeaders,
      });
      for await (const frame of frames) {
        const usage = calls.frame(record, frame);
        if (usage) Object.assign(trailers, usageTrailers(usage));
        if (!res.headersSent) res.writeHead(200, { "content-type": "application/grpc+proto" });
        if (!res.write(envelope(toBinary(CompletionChunkSchema, frame)))) await drained(res);
        if (call.signal.aborted) throw call.signal.reason;
      }
    } catch (err) {
      error = ConnectError.from(err);
      if (record) record.error = err;
    } finally {
      finished = true;
      clearTimeout(timer);
      res.off("close", gone);
      shutdownSignal.removeEventListener("abort", shutdown);
      if (!res.stream.destroyed) end(res, trailers, error);
      if (record) calls.end(record, call.signal);
    }
  }
}

/** Headers (if none went out yet), then the trailers with the call's status. */
function end(
  res: http2.Http2ServerResponse,
  trailers: Record<string, string>,
  error: ConnectError | undefined,
): void {
  if (!res.headersSent) res.writeHead(200, { "content-type": "application/grpc+proto" });
  if (error) {
    // As connect-node does: the error's own metadata (retry-after…) rides in the trailers.
    error.metadata.forEach((value, name) => {
      if (!name.startsWith("grpc-")) trailers[name] = value;
    });
    trailers["grpc-status"] = String(error.code);
    trailers["grpc-message"] = encodeGrpcMessage(error.rawMessage);
  } else trailers["grpc-status"] = "0";
  res.addTrailers(trailers);
  res.end();
}

/** The one request message: a 5-byte envelope (flags, length) and its protobuf bytes. */
async function readRequest(
  req: http2.Http2ServerRequest,
  maxBytes: number,
  signal: AbortSignal,
): Promise<CompleteRequest> {
  const parts = await new Promise<Buffer[]>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const settle = (err?: unknown) => {
      req.off("data", data).off("end", end).off("error", settle);
      signal.removeEventListener("abort", aborted);
      if (err === undefined) resolve(parts);
      else reject(err);
    };
    const data = (part: Buffer) => {
      size += part.length;
      parts.push(part);
      if (size > maxBytes + 5) {
        settle(
          new ConnectError(
            `message size is larger than configured readMaxBytes ${maxBytes}`,
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
  const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  if (body.length < 5) {
    throw new ConnectError(
      "protocol error: missing input message for server-streaming method",
      Code.Unimplemented,
    );
  }
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) {
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
  if (body.length > 5 + length) {
    throw new ConnectError(
      "protocol error: received extra input message for server-streaming method",
      Code.Unimplemented,
    );
  }
  if (body[0]! & 1) {
    throw new ConnectError(
      "protocol error: received compressed message without grpc-encoding",
      Code.Internal,
    );
  }
  try {
    return fromBinary(CompleteRequestSchema, body.subarray(5));
  } catch (err) {
    throw new ConnectError(
      `parse binary: ${err instanceof Error ? err.message : String(err)}`,
      Code.InvalidArgument,
    );
  }
}

function envelope(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Resolves when the response can take more, or is gone (the caller then sees the abort). */
function drained(res: http2.Http2ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
