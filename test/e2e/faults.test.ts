import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import OpenAI from "openai";
import { ChatService, Role } from "../../src/gen/geminate/v1/chat_pb.js";
import { type Script, startFaultUpstream, textEvent } from "../helpers/fault-upstream.ts";
import { assertSchema } from "../helpers/schemas.ts";
import { post, sseData } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// Fault injection against a scriptable fake Gemini: what the client sees, how often the
// upstream was called, and that no upstream response is left open afterwards.

const RETRY_INFO = (delay: string) => ({
  error: {
    code: 429,
    message: "You exceeded your current quota.",
    status: "RESOURCE_EXHAUSTED",
    details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: delay }],
  },
});
const INVALID_KEY = {
  error: {
    code: 400,
    message: "API key not valid. Please pass a valid API key.",
    status: "INVALID_ARGUMENT",
    details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID" }],
  },
};
const UNAVAILABLE = {
  error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" },
};
const OK: Script = { kind: "stream", events: [textEvent("Hello"), textEvent(" world", "STOP")] };

describe("fault injection", () => {
  let upstream: Awaited<ReturnType<typeof startFaultUpstream>>;
  let stack: Stack;
  let client: OpenAI;
  before(async () => {
    upstream = await startFaultUpstream();
    stack = await startStack({
      upstreamUrl: upstream.url,
      upstreamKeys: ["key-a", "key-b", "key-c"],
      env: {
        GEMINI_FIRST_BYTE_TIMEOUT_MS: "300",
        GEMINI_IDLE_TIMEOUT_MS: "300",
        GEMINI_RETRY_MAX_WAIT_MS: "3000",
      },
    });
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await stack.close();
    assert.equal(await upstream.connections(), 0, "no upstream socket outlives the gateway");
    await upstream.close();
  });
  afterEach(async () => {
    for (let i = 0; i < 100 && upstream.state.open > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(upstream.state.open, 0, "every upstream response was closed");
  });

  const ask = async (stream = true) => {
    const before = upstream.seen.length;
    const res = await post(`${stack.url}/v1/chat/completions`, {
      model: "gemini-2.5-flash",
      stream,
      messages: [{ role: "user", content: "x" }],
    });
    return { res, calls: upstream.seen.slice(before) };
  };

  test("503, 503, then a stream: retried before the first byte, one clean stream", async () => {
    upstream.script(
      { kind: "status", status: 503, body: UNAVAILABLE },
      { kind: "status", status: 503, body: UNAVAILABLE },
      OK,
    );
    const { res, calls } = await ask();
    assert.equal(res.status, 200);
    assert.equal(calls.length, 3);
    assert.deepEqual(sseData(res.text).slice(-1), ["[DONE]"]);
    assert.ok(!res.text.includes('"error"'));
  });

  test("characters split across upstream reads arrive whole", async () => {
    // A byte a time: every two-, three- and four-byte UTF-8 character spans reads.
    const text = "héllo wörld, 日本語 👋🏽";
    upstream.script({
      kind: "stream",
      events: [textEvent(text.slice(0, 8)), textEvent(text.slice(8), "STOP")],
      bytesPerWrite: 1,
    });
    const { res } = await ask();
    assert.equal(res.status, 200);
    const frames = sseData(res.text)
      .slice(0, -1)
      .map((d) => JSON.parse(d));
    assert.equal(frames.map((f) => f.choices[0]?.delta?.content ?? "").join(""), text);
  });

  test("a 400 is never retried", async () => {
    upstream.script({
      kind: "status",
      status: 400,
      body: {
        error: {
          code: 400,
          message: "Request contains an invalid argument.",
          status: "INVALID_ARGUMENT",
        },
      },
    });
    const { res, calls } = await ask();
    assert.equal(res.status, 400);
    assert.equal(calls.length, 1);
  });

  test("a failure after the first chunk is not retried: error frame, one upstream call", async () => {
    upstream.script({
      kind: "stream",
      events: [textEvent("a"), textEvent("b"), textEvent("c")],
      after: "error",
    });
    const { res, calls } = await ask();
    assert.equal(calls.length, 1);
    const data = sseData(res.text);
    assert.equal(data.at(-1), "[DONE]");
    assertSchema("ErrorResponse", JSON.parse(data.at(-2)!));
  });

  test("429 with RetryInfo: the next attempt moves to another key at once", async () => {
    upstream.script({ kind: "status", status: 429, body: RETRY_INFO("2s") }, OK);
    const { res, calls } = await ask();
    assert.equal(res.status, 200);
    assert.equal(calls.length, 2);
    assert.notEqual(calls[0]!.key, calls[1]!.key, "a key that failed is not reused");
    assert.ok(calls[1]!.at - calls[0]!.at < 1_000);
  });

  test("key pool: key 1 invalid, key 2 over quota, key 3 serves", async () => {
    upstream.script(
      { kind: "status", status: 400, body: INVALID_KEY },
      { kind: "status", status: 429, body: RETRY_INFO("30s") },
      OK,
    );
    const { res, calls } = await ask();
    assert.equal(res.status, 200, res.text);
    assert.equal(new Set(calls.map((c) => c.key)).size, 3);
  });

  test("429 beyond the retry budget reaches the client with retry-after", async () => {
    upstream.script({ kind: "status", status: 429, body: RETRY_INFO("45s") });
    const err = await client.chat.completions
      .create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.RateLimitError);
    assert.equal(err.headers?.get("retry-after"), "45");
  });

  test("a reset before any answer is retried", async () => {
    upstream.script({ kind: "reset" }, OK);
    const { res, calls } = await ask();
    assert.equal(res.status, 200);
    assert.equal(calls.length, 2);
  });

  test("a reset mid-stream is an error frame, never a clean stop", async () => {
    upstream.script({ kind: "stream", events: [textEvent("a")], after: "reset" });
    const { res } = await ask();
    const data = sseData(res.text);
    assert.match(data.at(-2)!, /"error"/);
    assert.ok(!res.text.includes('"finish_reason":"stop"'));
  });

  test("an upstream that stalls before answering times out (first-byte timeout) with 504", async () => {
    upstream.script({ kind: "stall" });
    const started = Date.now();
    const { res } = await ask(false);
    assert.equal(res.status, 504, res.text);
    assert.ok(Date.now() - started < 5_000);
  });

  test("an upstream that stalls mid-stream times out (idle timeout) with an error frame", async () => {
    upstream.script({ kind: "stream", events: [textEvent("a"), textEvent("b")], after: "stall" });
    const { res } = await ask();
    const data = sseData(res.text);
    assert.equal(data.at(-1), "[DONE]");
    assert.match(JSON.parse(data.at(-2)!).error.message, /silent/);
  });

  test("a stream that ends without finishReason is an error", async () => {
    upstream.script({ kind: "stream", events: [textEvent("a"), textEvent("b")], after: "end" });
    const { res } = await ask();
    assert.match(sseData(res.text).at(-2)!, /without a finish reason/);
  });

  test("a slow but steady stream is not cut by the idle timeout", async () => {
    upstream.script({
      kind: "stream",
      events: [textEvent("a"), textEvent("b"), textEvent("c"), textEvent("d", "STOP")],
      delayMs: 150,
    });
    const { res } = await ask();
    assert.ok(!res.text.includes('"error"'), res.text);
  });

  test("gRPC sees the same faults as non-OK statuses", async () => {
    const grpc = createClient(ChatService, createGrpcTransport({ baseUrl: stack.url }));
    const request = {
      model: "gemini-2.5-flash",
      messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: "x" } }] }],
    };
    upstream.script({ kind: "stream", events: [textEvent("a")], after: "stall" });
    const err = await (async () => {
      for await (const _ of grpc.streamComplete(request)) {
        // drain until the failure
      }
    })().catch((e: unknown) => e);
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.DeadlineExceeded);
    upstream.script({ kind: "status", status: 400, body: INVALID_KEY });
    const unauth = await grpc.complete(request).catch((e: unknown) => e);
    assert.equal((unauth as ConnectError).code, Code.Unauthenticated);
  });
});
