import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
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

  test("streams and unary answers arrive whole, many at once on shared connections", async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ask("[emulator words=300 chunk=3]", i % 2 === 0)),
    );
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, 200);
      const text =
        i % 2 === 0
          ? sseData(res.text)
              .slice(0, -1)
              .map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "")
              .join("")
          : (res.json() as { choices: { message: { content: string } }[] }).choices[0]!.message
              .content;
      assert.equal(text.trim().split(/\s+/).length, 300, `answer ${i}`);
    }
    // Over HTTP/1.1 each call in flight needs a socket of its own.
    assert.ok(stack.emulator!.connections <= 2, `${stack.emulator!.connections} connections`);
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
