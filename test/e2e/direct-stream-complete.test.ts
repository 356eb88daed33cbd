import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  ChatService,
  type CompleteRequestSchema,
  CompletionChunkSchema,
  Role,
} from "../../src/gen/geminate/v1/chat_pb.js";
import { type Stack, startStack } from "../helpers/stack.ts";

// StreamComplete over binary, uncompressed gRPC and Connect has a direct path of its own
// (src/rpc/direct-stream-complete.ts); compressed gRPC and JSON Connect calls still go through
// connect-node. A caller must not be able to tell them apart.

const PROTO = fileURLToPath(new URL("../../proto/geminate/v1/chat.proto", import.meta.url));
const GZIP = 2; // grpc-js compression algorithm ids: 0 identity, 1 deflate, 2 gzip

interface Chunk {
  model: string;
  choices: { index: number; delta: { content: string; role: string }; finishReason: string }[];
  usage: { promptTokens: number; completionTokens: number; totalTokens: number } | null;
}
interface ChatClient extends grpc.Client {
  StreamComplete(req: object, metadata?: grpc.Metadata): grpc.ClientReadableStream<Chunk>;
}

function client(url: string, compression: number | undefined): ChatClient {
  const def = protoLoader.loadSync(PROTO, { defaults: true, enums: String, longs: Number });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    geminate: {
      v1: { ChatService: new (a: string, c: grpc.ChannelCredentials, o?: object) => ChatClient };
    };
  };
  return new pkg.geminate.v1.ChatService(
    url.replace("http://", ""),
    grpc.credentials.createInsecure(),
    compression === undefined ? {} : { "grpc.default_compression_algorithm": compression },
  );
}

interface Outcome {
  frames: Omit<Chunk, "id" | "created">[];
  header: Record<string, unknown>;
  trailer: Record<string, unknown>;
  code: number;
  details: string;
}

/** Everything a grpc-js caller sees of one call: frames, header and trailer metadata, status. */
function call(c: ChatClient, req: object, metadata = new grpc.Metadata()): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { frames: [], header: {}, trailer: {}, code: -1, details: "" };
    const stream = c.StreamComplete(req, metadata);
    stream.on("metadata", (md) => {
      out.header = md.getMap();
    });
    stream.on("data", (chunk: Chunk & { id: string; created: number }) => {
      const { id: _id, created: _created, ...rest } = chunk;
      out.frames.push(rest);
    });
    stream.on("error", () => {});
    stream.on("status", (s: grpc.StatusObject) => {
      out.trailer = s.metadata.getMap();
      out.code = s.code;
      out.details = s.details;
      resolve(out);
    });
  });
}

const ask = (text: string, extra: object = {}) => ({
  model: "gemini-2.5-flash",
  messages: [{ role: "ROLE_USER", content: [{ text }] }],
  ...extra,
});

describe("StreamComplete over gRPC: the direct path answers as connect-node does", () => {
  let stack: Stack;
  let plain: ChatClient;
  let gzip: ChatClient;
  before(async () => {
    stack = await startStack({
      env: { GEMINATE_API_KEYS: "secret", GEMINATE_MAX_BODY_BYTES: "4096" },
    });
    plain = client(stack.url, undefined);
    gzip = client(stack.url, GZIP);
  });
  after(async () => {
    plain.close();
    gzip.close();
    await stack.close();
  });

  const authed = (requestId?: string) => {
    const md = new grpc.Metadata();
    md.set("authorization", "Bearer secret");
    if (requestId) md.set("x-request-id", requestId);
    return md;
  };

  test("the same frames, request id, usage trailers and status either way", async () => {
    const req = ask("[emulator words=12 chunk=2] hello");
    const direct = await call(plain, req, authed("req-direct"));
    const viaConnect = await call(gzip, req, authed("req-connect"));
    assert.equal(direct.code, grpc.status.OK, direct.details);
    assert.equal(viaConnect.code, grpc.status.OK, viaConnect.details);
    assert.ok(direct.frames.length >= 7, `${direct.frames.length} frames`);
    assert.deepEqual(direct.frames, viaConnect.frames);
    assert.equal(direct.header["x-request-id"], "req-direct");
    assert.equal(viaConnect.header["x-request-id"], "req-connect");
    const usage = (o: Outcome) =>
      Object.fromEntries(Object.entries(o.trailer).filter(([k]) => k.startsWith("geminate-usage")));
    assert.equal(
      usage(direct)["geminate-usage-total-tokens"],
      String(direct.frames.at(-1)?.usage?.totalTokens),
    );
    assert.deepEqual(usage(direct), usage(viaConnect));
  });

  test("errors carry the same code, message and trailers either way", async () => {
    const cases: [object, grpc.Metadata, number][] = [
      [ask("x"), new grpc.Metadata(), grpc.status.UNAUTHENTICATED],
      [ask("x", { temperature: 7 }), authed(), grpc.status.INVALID_ARGUMENT],
      [ask("x", { model: "gpt-4o" }), authed(), grpc.status.NOT_FOUND],
      [ask("[emulator fail=429]"), authed(), grpc.status.RESOURCE_EXHAUSTED],
      [ask("[emulator words=50 fail=midstream]"), authed(), grpc.status.UNAVAILABLE],
    ];
    for (const [req, md, code] of cases) {
      const direct = await call(plain, req, md);
      const viaConnect = await call(gzip, req, md);
      assert.equal(direct.code, code, `${JSON.stringify(req)}: ${direct.details}`);
      assert.equal(direct.code, viaConnect.code);
      assert.equal(direct.details, viaConnect.details);
      assert.deepEqual(direct.frames, viaConnect.frames);
      assert.equal(direct.trailer["retry-after"], viaConnect.trailer["retry-after"]);
    }
  });

  test("a deadline longer than a day is refused as connect-node refuses it", async () => {
    const out = await rawCall(stack.url, encodeRequest(), { "grpc-timeout": "25H" });
    assert.equal(out.status, String(grpc.status.INVALID_ARGUMENT));
    assert.match(out.message, /timeout .* must be <=/);
  });

  test("a broken envelope, an extra message or an oversized one: a clear status, and the next call is served", async () => {
    const good = encodeRequest();
    const broken = Buffer.concat([
      good.subarray(0, 5),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
    ]);
    broken.writeUInt32BE(5, 1);
    const bad = await rawCall(stack.url, broken);
    assert.equal(bad.status, String(grpc.status.INVALID_ARGUMENT));
    assert.match(bad.message, /^parse binary: /);
    const twice = await rawCall(stack.url, Buffer.concat([good, good]));
    assert.equal(twice.status, String(grpc.status.UNIMPLEMENTED));
    assert.match(twice.message, /extra input message/);
    const empty = await rawCall(stack.url, Buffer.alloc(0));
    assert.equal(empty.status, String(grpc.status.UNIMPLEMENTED));
    const big = await rawCall(stack.url, encodeRequest("y".repeat(5000)));
    assert.equal(big.status, String(grpc.status.RESOURCE_EXHAUSTED));
    const ok = await rawCall(stack.url, good);
    assert.equal(ok.status, "0", ok.message);
    assert.ok(ok.messages > 1);
  });
});

describe("StreamComplete over Connect: the direct path (binary) answers as connect-node (JSON) does", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { GEMINATE_API_KEYS: "secret" } });
  });
  after(() => stack.close());

  /** Frames (without id and time), trailers and error, as a connect-node client sees them. */
  async function connectCall(
    binary: boolean,
    request: Ask,
    key = "secret",
    httpVersion: "1.1" | "2" = "2",
  ) {
    const client = createClient(
      ChatService,
      createConnectTransport({ baseUrl: stack.url, httpVersion, useBinaryFormat: binary }),
    );
    const frames: unknown[] = [];
    const trailer: Record<string, string> = {};
    let error: { code: number; message: string; retryAfter: string | null } | undefined;
    try {
      for await (const frame of client.streamComplete(request, {
        headers: { authorization: `Bearer ${key}` },
        onTrailer: (t) =>
          t.forEach((v, k) => {
            trailer[k] = v;
          }),
      })) {
        const {
          id: _id,
          created: _created,
          ...rest
        } = toJson(CompletionChunkSchema, frame) as Record<string, unknown>;
        frames.push(rest);
      }
    } catch (err) {
      const e = ConnectError.from(err);
      error = { code: e.code, message: e.rawMessage, retryAfter: e.metadata.get("retry-after") };
    }
    return { frames, trailer, error };
  }

  const say = (text: string, extra: Ask = {}): Ask => ({
    model: "gemini-2.5-flash",
    messages: [{ role: Role.USER, content: [{ part: { case: "text", value: text } }] }],
    ...extra,
  });

  test("the same frames, usage and errors either way, over HTTP/2 and HTTP/1.1", async () => {
    const cases: [Ask, string][] = [
      [say("[emulator words=9 chunk=2] hi"), "secret"],
      [say("x"), "wrong"],
      [say("x", { temperature: 7 }), "secret"],
      [say("[emulator fail=429]"), "secret"],
      [say("[emulator words=50 fail=midstream]"), "secret"],
    ];
    for (const version of ["2", "1.1"] as const) {
      for (const [request, key] of cases) {
        const direct = await connectCall(true, request, key, version);
        const json = await connectCall(false, request, key, version);
        assert.deepEqual(direct, json, `HTTP/${version} ${JSON.stringify(request)}`);
      }
      const ok = await connectCall(true, cases[0]![0], "secret", version);
      assert.equal(ok.error, undefined);
      assert.ok(ok.frames.length >= 6);
      assert.match(ok.trailer["geminate-usage-total-tokens"] ?? "", /^[1-9]\d*$/);
    }
  });
});

type Ask = MessageInitShape<typeof CompleteRequestSchema>;

/** A CompleteRequest for gemini-2.5-flash, enveloped, written by hand (no protobuf library). */
function encodeRequest(text = "[emulator words=3] hi"): Buffer {
  const str = (field: number, value: Buffer) =>
    Buffer.concat([Buffer.from([(field << 3) | 2]), varint(value.length), value]);
  const part = str(1, Buffer.from(text)); // ContentPart.text
  const message = Buffer.concat([Buffer.from([(1 << 3) | 0, 2]), str(2, part)]); // ROLE_USER, content
  const body = Buffer.concat([str(1, Buffer.from("gemini-2.5-flash")), str(2, message)]);
  const out = Buffer.alloc(5);
  out.writeUInt32BE(body.length, 1);
  return Buffer.concat([out, body]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** One call from a bare HTTP/2 client: the grpc-status, grpc-message and messages received. */
async function rawCall(
  url: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: string; message: string; messages: number }> {
  const session = http2.connect(url);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/geminate.v1.ChatService/StreamComplete",
        "content-type": "application/grpc",
        te: "trailers",
        authorization: "Bearer secret",
        ...headers,
      });
      let pending = Buffer.alloc(0);
      let messages = 0;
      let status: string | undefined;
      let message = "";
      const read = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      };
      stream.on("response", read);
      stream.on("trailers", read);
      stream.on("data", (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          pending = pending.subarray(5 + pending.readUInt32BE(1));
          messages++;
        }
      });
      stream.on("error", reject);
      stream.on("close", () =>
        status === undefined
          ? reject(new Error("no grpc-status"))
          : resolve({ status, message, messages }),
      );
      stream.end(body);
    });
  } finally {
    session.close();
  }
}
