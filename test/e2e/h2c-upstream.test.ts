import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Pool } from "undici";
import { post, sseData } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// Gemini over HTTP/2 (h2c to the emulator, as to Gemini over TLS): answers arrive whole, and
// an upstream that fails mid-stream is reported as an error, never as a clean end.

describe("an HTTP/2 upstream", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ emulator: {}, env: { GEMINI_H2C: "true" } });
  });
  after(() => stack.close());

  const ask = (content: string, stream = true) =>
    post(`${stack.url}/v1/chat/completions`, {
      model: "gemini-2.5-flash",
      stream,
      messages: [{ role: "user", content }],
    });

  test("streams arrive whole, many at once on shared connections; unary answers whole", async () => {
    const before = stack.emulator!.connections;
    stack.emulator!.stats.peakOpen = 0;
    // A second between events (four per stream): the 210 streams are open upstream at once.
    const streams = await Promise.all(
      Array.from({ length: 210 }, () => ask("[emulator words=20 chunk=5 delay=1000]")),
    );
    for (const [i, res] of streams.entries()) {
      assert.equal(res.status, 200);
      const text = sseData(res.text)
        .slice(0, -1)
        .map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "")
        .join("");
      assert.equal(text.trim().split(/\s+/).length, 20, `stream ${i}`);
    }
    // Over HTTP/1.1 each stream in flight would need a socket of its own. With undici's default
    // cap of 100 streams per connection, the pool held streams back for a third connection (the
    // emulator, like Node, allows more per connection; Gemini's own SETTINGS still apply).
    const opened = stack.emulator!.connections - before;
    assert.ok(opened <= 2, `${opened} connections for 210 concurrent streams`);
    assert.equal(stack.emulator!.stats.peakOpen, 210, "every stream was open upstream at once");
    const unary = await ask("[emulator words=300]", false);
    const answer = unary.json() as { choices: { message: { content: string } }[] };
    assert.equal(answer.choices[0]!.message.content.trim().split(/\s+/).length, 300);
  });

  test("fast answers arrive whole, finish frame and [DONE] included, one after another on one connection", async () => {
    // Unpaced events arrive many to an upstream read, so their frames leave in batched writes.
    const pool = new Pool(stack.url, { connections: 1 });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await pool.request({
          method: "POST",
          path: "/v1/chat/completions",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: "gemini-2.5-flash",
            stream: true,
            messages: [{ role: "user", content: "[emulator words=3000 chunk=1]" }],
          }),
        });
        const data = sseData(await res.body.text());
        assert.equal(data.at(-1), "[DONE]", `call ${i}`);
        const frames = data.slice(0, -1).map((d) => JSON.parse(d));
        assert.equal(frames.at(-1).choices[0].finish_reason, "stop", `call ${i}`);
        const words = frames.map((f) => f.choices[0]?.delta?.content ?? "").join("");
        assert.equal(words.trim().split(/\s+/).length, 3000, `call ${i}`);
      }
    } finally {
      await pool.close();
    }
  });

  test("large prompts at once all get answers (Node caps what one HTTP/2 session may hold queued)", async () => {
    // Six 4 MB prompts (a PDF or a photo each): Node refuses new streams on an HTTP/2 session
    // holding 10 MB of unsent data (NGHTTP2_ENHANCE_YOUR_CALM). Half of these failed their
    // first attempt and waited for a retry; a longer burst ran out of retries with 503s.
    const retries = async () => {
      const text = await (await fetch(`${stack.url}/metrics`)).text();
      return Number(/^geminate_upstream_retries_total (\d+)/m.exec(text)?.[1]);
    };
    const retriesBefore = await retries();
    const filler = "x".repeat(4_000_000);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => ask(`[emulator words=5] ${i} ${filler}`)),
    );
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, 200, `call ${i}: ${res.text.slice(0, 300)}`);
      assert.equal(sseData(res.text).at(-1), "[DONE]", `call ${i}`);
      assert.doesNotMatch(res.text, /"error"/, `call ${i}`);
    }
    assert.equal(await retries(), retriesBefore, "no call needed a second attempt");
  });

  for (const fault of ["midstream", "reset", "malformed"]) {
    test(`fail=${fault} after the first event ends the stream with an error`, async () => {
      const res = await ask(`[emulator fail=${fault} words=20]`);
      const data = sseData(res.text);
      assert.equal(data.at(-1), "[DONE]");
      const last = JSON.parse(data.at(-2)!) as { error?: { message: string } };
      assert.ok(last.error, `the stream ends with an error frame: ${res.text.slice(-300)}`);
    });
  }
});
