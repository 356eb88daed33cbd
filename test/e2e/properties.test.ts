import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { assertSchema } from "../helpers/schemas.ts";
import { post } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// Property tests: whatever a client sends, the answer is a 200 or a schema-valid 4xx (never a
// 5xx or a crash), and a 4xx never reaches Gemini.

describe("the facade under arbitrary input", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ emulator: {} });
  });
  after(() => stack.close());

  const check = async (body: string) => {
    const before = stack.emulator!.received.length;
    const res = await post(`${stack.url}/v1/chat/completions`, body);
    const reached = stack.emulator!.received.length - before;
    if (res.status === 200) return true;
    assert.ok(
      res.status >= 400 && res.status < 500,
      `status ${res.status} for ${body.slice(0, 200)}: ${res.text}`,
    );
    assertSchema("ErrorResponse", res.json());
    assert.equal(reached, 0, `a ${res.status} reached the upstream: ${body.slice(0, 200)}`);
    return true;
  };

  test("arbitrary JSON bodies", async () => {
    await fc.assert(
      fc.asyncProperty(fc.json({ maxDepth: 4 }), (body) => check(body)),
      { numRuns: 150 },
    );
  });

  const jsonValue = fc.jsonValue({ maxDepth: 2 });
  const message = fc.record(
    {
      role: fc.oneof(
        fc.constantFrom("system", "developer", "user", "assistant", "tool", "wizard"),
        jsonValue,
      ),
      content: fc.oneof(
        fc.string(),
        fc.array(
          fc.record({
            type: fc.constantFrom("text", "image_url", "file", "input_audio"),
            text: fc.string(),
          }),
        ),
        jsonValue,
      ),
      tool_call_id: fc.string(),
      tool_calls: jsonValue,
    },
    { requiredKeys: ["role"] },
  );
  const request = fc.record(
    {
      model: fc.oneof(
        fc.constantFrom(
          "gemini-2.5-flash",
          "gemini-3-pro-preview-nothinking",
          "gemini-2.5-pro-thinking-99",
        ),
        fc.string(),
      ),
      messages: fc.array(message, { maxLength: 4 }),
      temperature: fc.oneof(fc.double(), jsonValue),
      top_p: fc.oneof(fc.double(), jsonValue),
      max_tokens: fc.oneof(fc.integer(), jsonValue),
      n: fc.oneof(fc.integer({ min: -2, max: 10 }), jsonValue),
      stop: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 8 }), jsonValue),
      stream: fc.oneof(fc.boolean(), jsonValue),
      tools: jsonValue,
      tool_choice: jsonValue,
      response_format: jsonValue,
      reasoning_effort: fc.oneof(fc.constantFrom("none", "low", "high"), jsonValue),
      logprobs: jsonValue,
    },
    { requiredKeys: [] },
  );

  test("chat-shaped requests with wrong, odd and missing fields", async () => {
    await fc.assert(
      fc.asyncProperty(request, (body) => check(JSON.stringify(body))),
      { numRuns: 300 },
    );
  });

  test("malformed media in data URLs and URLs", async () => {
    const url = fc.oneof(
      fc.string().map((s) => `data:${s}`),
      fc
        .tuple(
          fc.constantFrom("image/png", "application/pdf", "audio/wav", "text/plain", "x/y"),
          fc.base64String(),
        )
        .map(([m, b]) => `data:${m};base64,${b}`),
      fc
        .uint8Array({ maxLength: 64 })
        .map((b) => `data:image/png;base64,${Buffer.from(b).toString("base64")}`),
      // Loopback literals only: refused by the address policy before any connection is made,
      // so the property never sends a packet beyond this machine.
      fc
        .tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 65535 }), fc.webPath())
        .map(([host, port, path]) => `http://127.0.0.${host}:${port}${path}`),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(url, (u) =>
        check(
          JSON.stringify({
            model: "gemini-2.5-flash",
            messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: u } }] }],
          }),
        ),
      ),
      { numRuns: 150 },
    );
  });
});
