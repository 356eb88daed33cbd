import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import zlib from "node:zlib";
import OpenAI from "openai";
import { assertSchema } from "../helpers/schemas.ts";
import { post } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// Hostile input: bodies too deep, poisoned, compressed bombs, and too much load.

const chat = (content: string) => ({
  model: "gemini-2.5-flash",
  messages: [{ role: "user", content }],
});

/** POST with a raw body and headers, over node:http (fetch would re-encode the body). */
function rawPost(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/chat/completions`, { method: "POST", headers }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("request limits", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { GEMINATE_MAX_BODY_BYTES: String(1024 * 1024) } });
  });
  after(() => stack.close());

  test("a 100,000-deep array is a 400, and the server keeps serving", async () => {
    const res = await post(
      `${stack.url}/v1/chat/completions`,
      `{"model":"gemini-2.5-flash","messages":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
    );
    assert.equal(res.status, 400);
    assertSchema("ErrorResponse", res.json());
    assert.equal((await post(`${stack.url}/v1/chat/completions`, chat("alive?"))).status, 200);
  });

  test("prototype-poisoning keys are a 400", async () => {
    for (const body of [
      '{"__proto__":{"admin":true},"model":"gemini-2.5-flash","messages":[]}',
      '{"constructor":{"prototype":{"x":1}}}',
    ]) {
      const res = await post(`${stack.url}/v1/chat/completions`, body);
      assert.equal(res.status, 400, body);
      assertSchema("ErrorResponse", res.json());
    }
  });

  test("a gzip bomb is refused with 413 once its decoded size passes the cap", async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(100 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < 200 * 1024);
    const before = process.memoryUsage().rss;
    const res = await rawPost(stack.url, bomb, {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    assert.equal(res.status, 413);
    assertSchema("ErrorResponse", JSON.parse(res.text));
    assert.ok(
      process.memoryUsage().rss - before < 64 * 1024 * 1024,
      "the bomb was not inflated in memory",
    );
  });

  test("a gzip-compressed request is accepted", async () => {
    const res = await rawPost(stack.url, zlib.gzipSync(JSON.stringify(chat("zipped"))), {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /You said: zipped/);
  });

  test("too many messages is a 400 naming messages", async () => {
    const res = await post(`${stack.url}/v1/chat/completions`, {
      model: "gemini-2.5-flash",
      messages: Array.from({ length: 5000 }, () => ({ role: "user", content: "x" })),
    });
    assert.equal(res.status, 400);
    assert.equal((res.json() as { error: { param: string } }).error.param, "messages");
  });
});

describe("load shedding and keepalive", () => {
  test("past the in-flight cap calls fail fast with 503 and retry-after, not a queue", async () => {
    const stack = await startStack({ env: { GEMINATE_MAX_INFLIGHT: "2" } });
    try {
      const slow = () =>
        fetch(`${stack.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...chat("[emulator words=20 delay=50]"), stream: true }),
        }).then((r) => r.text());
      const running = [slow(), slow()];
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const res = await post(`${stack.url}/v1/chat/completions`, chat("one too many"));
      assert.ok(Date.now() - started < 100, "refused at once");
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "1");
      assertSchema("ErrorResponse", res.json());
      for (const body of await Promise.all(running)) assert.ok(body.endsWith("data: [DONE]\n\n"));
    } finally {
      await stack.close();
    }
  });

  test("per-key rate limits answer 429 with retry-after", async () => {
    const stack = await startStack({
      env: { GEMINATE_API_KEYS: "k1,k2", GEMINATE_RATE_LIMIT_RPM: "2" },
    });
    try {
      const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "k1", maxRetries: 0 });
      const ask = () =>
        client.chat.completions.create({
          model: "gemini-2.5-flash",
          messages: [{ role: "user", content: "x" }],
        });
      await ask();
      await ask();
      const err = await ask().catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.ok(Number(err.headers?.get("retry-after")) >= 1);
      // Another key has its own budget.
      const other = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "k2", maxRetries: 0 });
      await other.chat.completions.create({
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: "x" }],
      });
    } finally {
      await stack.close();
    }
  });

  test("SSE comment pings keep a silent stream alive, before the first token too", async () => {
    const stack = await startStack({ env: { GEMINATE_SSE_PING_MS: "100" } });
    try {
      const res = await post(`${stack.url}/v1/chat/completions`, {
        ...chat("[emulator words=3 delay=400]"),
        stream: true,
      });
      assert.equal(res.status, 200);
      const firstData = res.text.indexOf("data: ");
      assert.ok(
        res.text.indexOf(": ping\n\n") >= 0 && res.text.indexOf(": ping\n\n") < firstData,
        "a ping came before the first token",
      );
      const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "x", maxRetries: 0 });
      const stream = await client.chat.completions.create({
        ...chat("[emulator words=3 delay=300]"),
        stream: true,
      } as OpenAI.ChatCompletionCreateParamsStreaming);
      let text = "";
      for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
      assert.equal(text, "the quick brown");
    } finally {
      await stack.close();
    }
  });
});
