import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { startReplayUpstream } from "../helpers/replay-upstream.ts";
import { assertSchema, fixture } from "../helpers/schemas.ts";
import { post, streamChunks } from "../helpers/sse.ts";
import { type Stack, startStack, UPSTREAM_KEY } from "../helpers/stack.ts";

// Real recorded Gemini responses (shared/fixtures/gemini) replayed byte for byte through a
// loopback upstream; what an OpenAI client gets is checked field by field and against the
// official schemas.

interface Expected {
  /** Start of the answer text (content). */
  text: string;
  /** Its full length in UTF-16 units, when there is any. */
  length?: number;
  /** Length of reasoning_content. */
  reasoning?: number;
  finish: "stop" | "length" | "content_filter";
  native: string;
  usage: { prompt: number; completion: number; total: number; reasoning?: number };
  id?: string;
}

const STREAMS: Record<string, Expected> = {
  "stream-text.sse": {
    text: "The capital of Wyoming is **Cheyenne**.\n",
    length: 40,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 7, completion: 10, total: 17 },
  },
  "stream-text-long.sse": {
    text: "Okay, let's dive into the world of cats",
    length: 8845,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 10, completion: 1996, total: 2006 },
  },
  "stream-text-2.5-flash.sse": {
    text: "Here you go!",
    length: 123,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 5, completion: 230, total: 235, reasoning: 186 },
    id: "chatcmpl-AdVRaMmDCYekqtsPrb_-iAw",
  },
  "stream-text-max-tokens.sse": {
    text: "The sky is blue primarily",
    length: 653,
    finish: "length",
    native: "MAX_TOKENS",
    usage: { prompt: 7, completion: 198, total: 205, reasoning: 45 },
  },
  "stream-text-gemini3.sse": {
    text: 'There are **3** "r"s in strawberry.',
    length: 55,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 9, completion: 208, total: 217, reasoning: 185 },
  },
  "stream-thinking.sse": {
    text: "The sky is blue because",
    length: 263,
    reasoning: 1133,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 10, completion: 588, total: 598, reasoning: 540 },
  },
  "stream-blocked-prompt.sse": {
    text: "",
    finish: "content_filter",
    native: "SAFETY",
    usage: { prompt: 0, completion: 0, total: 0 },
  },
  "blocked-prompt.sse": {
    text: "",
    finish: "content_filter",
    native: "PROHIBITED_CONTENT",
    usage: { prompt: 13, completion: 0, total: 13 },
  },
  "stream-vertex-text.sse": {
    text: "The sky is blue because of",
    length: 669,
    finish: "length",
    native: "MAX_TOKENS",
    usage: { prompt: 6, completion: 197, total: 203, reasoning: 41 },
  },
  "stream-vertex-basic.sse": {
    text: "Cheyenne",
    length: 8,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 6, completion: 4, total: 10 },
  },
  "stream-finish-message.sse": {
    text: "Hello world!",
    length: 12,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 0, completion: 0, total: 0 },
  },
  "stream-citations.sse": {
    text: "Okay, let's break down quantum mechanics",
    length: 6711,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 15, completion: 1381, total: 1396 },
  },
  "stream-text-2024-gemini-pro.sse": {
    text: "In the quaint, sunlit cottage",
    length: 2252,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 0, completion: 0, total: 0 },
  },
  "stream-code-execution.sse": {
    text: "To find the sum of the first 5 prime",
    // The text, plus the executed code and its output as fenced blocks.
    length: 439,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 264, completion: 221, total: 485, reasoning: 95 },
  },
};

const UNARY: Record<string, Expected> = {
  "nonstream-text.json": {
    text: "Google's headquarters",
    length: 98,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 7, completion: 22, total: 29 },
  },
  "nonstream-text-gemini3.json": {
    text: "There are **3** r's in strawberry.",
    length: 78,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 9, completion: 272, total: 281, reasoning: 244 },
    id: "chatcmpl-Un6LacrVMcjUxs0PmJfWoQc",
  },
  "nonstream-thinking.json": {
    text: "Mountain View",
    length: 13,
    reasoning: 352,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 14, completion: 26, total: 40, reasoning: 24 },
  },
  "nonstream-max-tokens-no-parts.json": {
    text: "",
    finish: "length",
    native: "MAX_TOKENS",
    usage: { prompt: 7, completion: 19, total: 26, reasoning: 19 },
  },
  "nonstream-thought-2.0.json": {
    text: "",
    reasoning: 541,
    finish: "length",
    native: "MAX_TOKENS",
    usage: { prompt: 17, completion: 19, total: 36, reasoning: 19 },
  },
  "blocked-prompt.json": {
    text: "",
    finish: "content_filter",
    native: "PROHIBITED_CONTENT",
    usage: { prompt: 12559, completion: 0, total: 12559 },
  },
  "blocked-prompt-safety.json": {
    text: "",
    finish: "content_filter",
    native: "SAFETY",
    usage: { prompt: 0, completion: 0, total: 0 },
  },
  "safety-finish.json": {
    text: "Safety error incoming",
    length: 38,
    finish: "content_filter",
    native: "SAFETY",
    usage: { prompt: 7, completion: 20, total: 27 },
  },
  "nonstream-finish-other-message.json": {
    text: "",
    finish: "content_filter",
    native: "OTHER",
    usage: { prompt: 0, completion: 0, total: 0 },
  },
  "nonstream-system-instruction.json": {
    text: "low",
    length: 3,
    finish: "stop",
    native: "STOP",
    usage: { prompt: 9, completion: 21, total: 30, reasoning: 20 },
  },
};

describe("recorded Gemini responses replayed through geminate", () => {
  let upstream: Awaited<ReturnType<typeof startReplayUpstream>>;
  let stack: Stack;
  let client: OpenAI;
  before(async () => {
    upstream = await startReplayUpstream();
    stack = await startStack({ upstreamUrl: upstream.url });
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await stack.close();
    await upstream.close();
  });

  for (const [name, want] of Object.entries(STREAMS)) {
    test(`stream ${name}`, async () => {
      upstream.reply({ body: fixture(name) });
      const chunks = await streamChunks(stack.url, { stream_options: { include_usage: true } });
      assert.equal(chunks[0].choices[0].delta.role, "assistant");
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
      const reasoning = chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? "").join("");
      check(want, text, reasoning);
      const finishes = chunks.flatMap((c) => c.choices).filter((c) => c.finish_reason);
      assert.equal(finishes.length, 1, "exactly one finish reason");
      assert.equal(finishes[0].finish_reason, want.finish);
      assert.equal(finishes[0].native_finish_reason, want.native);
      const usage = chunks.at(-1).usage;
      assert.deepEqual(chunks.at(-1).choices, []);
      checkUsage(want, usage);
      assert.equal(chunks.filter((c) => c.usage).length, 1, "usage once, at the end");
      assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
      if (want.id) assert.equal(chunks[0].id, want.id);
      const sent = upstream.requests.at(-1)!;
      assert.equal(sent.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
      assert.equal(sent.headers["x-goog-api-key"], UPSTREAM_KEY);
      assert.ok(!sent.path.includes("key="), "the key never travels in the URL");
    });
  }

  for (const [name, want] of Object.entries(UNARY)) {
    test(`unary ${name}`, async () => {
      upstream.reply({ contentType: "application/json; charset=UTF-8", body: fixture(name) });
      const completion = await client.chat.completions.create({
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: "replay" }],
      });
      assertSchema("CreateChatCompletionResponse", completion);
      const message = completion.choices[0]!.message as {
        content: string;
        reasoning_content?: string;
      };
      check(want, message.content, message.reasoning_content ?? "");
      assert.equal(completion.choices[0]!.finish_reason, want.finish);
      checkUsage(want, completion.usage);
      if (want.id) assert.equal(completion.id, want.id);
      assert.equal(
        upstream.requests.at(-1)!.path,
        "/v1beta/models/gemini-2.5-flash:generateContent",
      );
    });
  }

  test("a bare error object appended mid-stream fails the stream with its message", async () => {
    upstream.reply({ body: fixture("stream-error-mid-stream.txt") });
    const stream = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      stream: true,
      messages: [{ role: "user", content: "replay" }],
    });
    let text = "";
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.match(err.message, /The operation was cancelled/);
    assert.equal(text, "First Second ");
  });

  const ERRORS: [string, number, string, string | null][] = [
    ["error-400-api-key.json", 401, "authentication_error", "invalid_api_key"],
    ["error-400-invalid-argument.json", 400, "invalid_request_error", null],
    ["error-400-unknown-field.json", 400, "invalid_request_error", null],
    ["error-400-failed-precondition-location.json", 400, "invalid_request_error", null],
    ["error-403-no-key.json", 403, "permission_error", null],
    ["error-403-service-disabled.json", 403, "permission_error", null],
    ["error-404.json", 404, "invalid_request_error", null],
    ["error-429.json", 429, "rate_limit_exceeded", "rate_limit_exceeded"],
    ["error-429-old-rate-limit.json", 429, "rate_limit_exceeded", "rate_limit_exceeded"],
    ["error-500.json", 500, "server_error", null],
    ["error-503.json", 503, "server_error", null],
  ];
  for (const [name, status, type, code] of ERRORS) {
    test(`upstream error ${name} → ${status}`, async () => {
      const raw = fixture(name);
      const upstreamStatus = (JSON.parse(raw.toString()) as { error: { code: number } }).error.code;
      for (const stream of [false, true]) {
        upstream.reply({
          status: upstreamStatus,
          contentType: "application/json; charset=UTF-8",
          body: raw,
        });
        const res = await post(`${stack.url}/v1/chat/completions`, {
          model: "gemini-2.5-flash",
          stream,
          messages: [{ role: "user", content: "x" }],
        });
        assert.equal(res.status, status);
        const body = res.json() as {
          error: { type: string; code: string | null; message: string };
        };
        assertSchema("ErrorResponse", body);
        assert.equal(body.error.type, type);
        assert.equal(body.error.code, code);
        const upstreamMessage = (JSON.parse(raw.toString()) as { error: { message: string } }).error
          .message;
        assert.equal(body.error.message, upstreamMessage);
      }
    });
  }

  test("quota errors carry retry-after from RetryInfo", async () => {
    upstream.reply({
      status: 429,
      contentType: "application/json",
      body: fixture("error-429.json"),
    });
    const res = await post(`${stack.url}/v1/chat/completions`, {
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "x" }],
    });
    assert.equal(res.headers.get("retry-after"), "26");
  });
});

function check(want: Expected, text: string, reasoning: string): void {
  assert.ok(text.startsWith(want.text), `text starts ${JSON.stringify(text.slice(0, 60))}`);
  assert.equal(text.length, want.length ?? 0);
  assert.equal(reasoning.length, want.reasoning ?? 0);
}

function checkUsage(
  want: Expected,
  usage:
    | {
        prompt_tokens: number;
        completion_tokens: number;
        total_tokens: number;
        completion_tokens_details?: { reasoning_tokens?: number };
      }
    | undefined,
): void {
  assert.ok(usage);
  assert.equal(usage.prompt_tokens, want.usage.prompt);
  assert.equal(usage.completion_tokens, want.usage.completion);
  assert.equal(usage.total_tokens, want.usage.total);
  assert.equal(usage.completion_tokens_details?.reasoning_tokens ?? 0, want.usage.reasoning ?? 0);
}
