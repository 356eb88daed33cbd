import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { assertSchema } from "../helpers/schemas.ts";
import { post } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// Bad input gets an OpenAI-shaped 400 naming the field, reaches no upstream, and the server
// keeps serving.

describe("bad input", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  const cases: [string, unknown, string][] = [
    ["malformed JSON", '{"model": "gemini-2.5-flash", "messages": [', "body"],
    ["a JSON array", "[1,2]", "body"],
    ["missing messages", { model: "gemini-2.5-flash" }, "messages"],
    ["empty messages", { model: "gemini-2.5-flash", messages: [] }, "messages"],
    ["missing model", { messages: [{ role: "user", content: "x" }] }, "model"],
    [
      "an unknown role",
      { model: "gemini-2.5-flash", messages: [{ role: "wizard", content: "x" }] },
      "messages[0].role",
    ],
    [
      "content of the wrong type",
      { model: "gemini-2.5-flash", messages: [{ role: "user", content: 42 }] },
      "messages[0].content",
    ],
    [
      "an unsupported content part",
      {
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: [{ type: "video", video: {} }] }],
      },
      "messages[0].content[0].type",
    ],
    [
      "temperature as a string",
      { model: "gemini-2.5-flash", temperature: "hot", messages: [{ role: "user", content: "x" }] },
      "temperature",
    ],
    [
      "temperature out of range",
      { model: "gemini-2.5-flash", temperature: 3, messages: [{ role: "user", content: "x" }] },
      "temperature",
    ],
    [
      "top_p out of range",
      { model: "gemini-2.5-flash", top_p: -1, messages: [{ role: "user", content: "x" }] },
      "top_p",
    ],
    [
      "max_tokens not an integer",
      { model: "gemini-2.5-flash", max_tokens: 1.5, messages: [{ role: "user", content: "x" }] },
      "max_tokens",
    ],
    [
      "stream not a boolean",
      { model: "gemini-2.5-flash", stream: "yes", messages: [{ role: "user", content: "x" }] },
      "stream",
    ],
    [
      "six stop sequences",
      {
        model: "gemini-2.5-flash",
        stop: ["a", "b", "c", "d", "e", "f"],
        messages: [{ role: "user", content: "x" }],
      },
      "stop",
    ],
    [
      "only a system message",
      { model: "gemini-2.5-flash", messages: [{ role: "system", content: "x" }] },
      "messages",
    ],
  ];

  for (const [name, body, param] of cases) {
    test(`${name} → 400 naming ${param}`, async () => {
      const before = stack.emulator!.received.length;
      for (const stream of [false, true]) {
        const payload =
          typeof body === "object" && body && !Array.isArray(body)
            ? { ...body, ...(stream && !("stream" in body) && { stream }) }
            : body;
        const res = await post(`${stack.url}/v1/chat/completions`, payload);
        assert.equal(res.status, 400, res.text);
        const error = res.json() as { error: { param: string; message: string; type: string } };
        assertSchema("ErrorResponse", error);
        assert.equal(error.error.param, param);
        assert.equal(error.error.type, "invalid_request_error");
        assert.ok(error.error.message.includes(param), error.error.message);
        assert.equal(res.headers.get("x-should-retry"), "false");
      }
      assert.equal(stack.emulator!.received.length, before, "nothing reached the upstream");
    });
  }

  test("the openai client sees BadRequestError with param, and the server keeps serving", async () => {
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "x", maxRetries: 0 });
    const err = await client.chat.completions
      .create({
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: "x" }],
        temperature: 9,
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, "temperature");
    const ok = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "still here" }],
    });
    assert.equal(ok.choices[0]!.message.content, "You said: still here");
  });

  test("a body over the limit is refused with 413 while it is read", async () => {
    const small = await startStack({ env: { GEMINATE_MAX_BODY_BYTES: "1024" } });
    try {
      const res = await post(`${small.url}/v1/chat/completions`, {
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: "x".repeat(4096) }],
      });
      assert.equal(res.status, 413);
      assertSchema("ErrorResponse", res.json());
    } finally {
      await small.close();
    }
  });

  test("unknown routes and wrong methods are OpenAI-shaped errors", async () => {
    const missing = await fetch(`${stack.url}/v1/nothing`);
    assert.equal(missing.status, 404);
    assertSchema("ErrorResponse", await missing.json());
    const wrong = await fetch(`${stack.url}/v1/chat/completions`);
    assert.equal(wrong.status, 405);
    assertSchema("ErrorResponse", await wrong.json());
  });
});
