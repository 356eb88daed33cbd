import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { assertSchema } from "../helpers/schemas.ts";
import { post, sseData } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// The official openai client against geminate on its embedded emulator, as `npm start` runs it.

describe("OpenAI facade with the official openai client", () => {
  let stack: Stack;
  let client: OpenAI;
  before(async () => {
    stack = await startStack();
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  after(() => stack.close());

  test("non-streaming chat returns the upstream's answer with usage", async () => {
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hello geminate" },
      ],
      temperature: 0.2,
      max_tokens: 100,
    });
    assertSchema("CreateChatCompletionResponse", completion);
    assert.equal(completion.object, "chat.completion");
    assert.equal(completion.model, "gemini-2.5-flash");
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0]!.message.content, "You said: hello geminate");
    assert.equal(completion.choices[0]!.finish_reason, "stop");
    const usage = completion.usage!;
    assert.ok(usage.prompt_tokens > 0);
    assert.equal(usage.completion_tokens, 4);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  });

  test("the request reaches Gemini translated: system instruction, roles, generation config", async () => {
    await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [
        { role: "system", content: "Rule one." },
        { role: "developer", content: "Rule two." },
        { role: "user", content: "first" },
        { role: "assistant", content: "reply" },
        { role: "user", content: [{ type: "text", text: "second" }] },
      ],
      temperature: 0.5,
      top_p: 0.9,
      max_completion_tokens: 64,
      stop: ["END"],
    });
    assert.deepEqual(stack.emulator!.received.at(-1), {
      contents: [
        { role: "user", parts: [{ text: "first" }] },
        { role: "model", parts: [{ text: "reply" }] },
        { role: "user", parts: [{ text: "second" }] },
      ],
      systemInstruction: { parts: [{ text: "Rule one." }, { text: "Rule two." }] },
      generationConfig: {
        temperature: 0.5,
        topP: 0.9,
        maxOutputTokens: 64,
        stopSequences: ["END"],
      },
    });
  });

  test("streaming chat yields role, content deltas, one finish reason and a usage chunk", async () => {
    const stream = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "stream [emulator words=9 chunk=2]" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      chunks.push(chunk);
    }
    assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, "the quick brown fox jumps over a lazy dog");
    const finishes = chunks.flatMap((c) => c.choices.map((x) => x.finish_reason).filter(Boolean));
    assert.deepEqual(finishes, ["stop"]);
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage!.completion_tokens, 9);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    // Content frames: 9 words two at a time, each its own delta.
    assert.equal(chunks.filter((c) => c.choices[0]?.delta.content).length, 5);
  });

  test("without include_usage no usage chunk is sent", async () => {
    const res = await post(`${stack.url}/v1/chat/completions`, {
      model: "gemini-2.5-flash",
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    });
    const data = sseData(res.text);
    assert.equal(data.at(-1), "[DONE]");
    for (const d of data.slice(0, -1)) {
      const chunk = JSON.parse(d);
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      assert.equal(chunk.usage, undefined);
      assert.equal(chunk.choices.length, 1);
    }
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("x-geminate-upstream"), "emulator");
  });

  test("max_tokens cut by the upstream ends with finish_reason length", async () => {
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "long [emulator words=50]" }],
      max_tokens: 5,
    });
    assert.equal(completion.choices[0]!.finish_reason, "length");
    assert.equal(completion.choices[0]!.message.content, "the quick brown fox jumps");
  });

  test("a -thinking alias returns thought summaries as reasoning_content, never in content", async () => {
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash-thinking",
      messages: [{ role: "user", content: "think [emulator think=6]" }],
    });
    const message = completion.choices[0]!.message as {
      content: string;
      reasoning_content?: string;
    };
    assert.match(message.reasoning_content ?? "", /^\*\*Thinking\*\*/);
    assert.equal(message.content, "You said: think [emulator think=6]");
    assert.deepEqual(
      (stack.emulator!.received.at(-1) as { generationConfig: unknown }).generationConfig,
      { thinkingConfig: { includeThoughts: true } },
    );
    const details = completion.usage!.completion_tokens_details!;
    assert.equal(details.reasoning_tokens, 6);
    assert.equal(completion.usage!.completion_tokens, 6 + 5);
  });

  test("models list and retrieve include the names people use", async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    for (const id of [
      "gemini-2.5-pro",
      "gemini-2.5-flash",
      "gemini-2.5-flash-thinking",
      "gemini-2-5-flash-image",
      "gemini-3-pro-image-preview",
    ]) {
      assert.ok(ids.includes(id), id);
    }
    const raw = await (await fetch(`${stack.url}/v1/models`)).json();
    assertSchema("ListModelsResponse", raw);
    const model = await client.models.retrieve("gemini-2-5-flash-image");
    assertSchema("Model", model);
    assert.equal(model.id, "gemini-2-5-flash-image");
    await assert.rejects(client.models.retrieve("gpt-4o"), OpenAI.NotFoundError);
  });

  test("an unknown model is a 404 naming the model", async () => {
    const err = await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.code, "model_not_found");
    assert.equal(err.param, "model");
  });

  test("upstream quota is a 429 with retry-after from RetryInfo", async () => {
    const err = await client.chat.completions
      .create({
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: "[emulator fail=429]" }],
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.RateLimitError);
    assert.equal(err.headers?.get("retry-after"), "26");
    assert.match(err.message, /exceeded your current quota/);
  });

  test("upstream outages are 503 and 502-class errors, streaming or not", async () => {
    for (const [fail, status] of [
      ["503", 503],
      ["500", 500],
    ] as const) {
      for (const stream of [false, true]) {
        const res = await post(`${stack.url}/v1/chat/completions`, {
          model: "gemini-2.5-flash",
          stream,
          messages: [{ role: "user", content: `[emulator fail=${fail}]` }],
        });
        assert.equal(res.status, status, `${fail} stream=${stream}`);
        assertSchema("ErrorResponse", res.json());
      }
    }
  });

  test("a failure mid-stream raises APIError in the client instead of a clean end", async () => {
    const before = {
      midstream: "the ",
      nofinish: "the quick brown fox jumps over",
      reset: "the ",
      malformed: "the ",
    };
    for (const [fail, delivered] of Object.entries(before)) {
      const stream = await client.chat.completions.create({
        model: "gemini-2.5-flash",
        stream: true,
        messages: [{ role: "user", content: `[emulator fail=${fail} words=6]` }],
      });
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
        })(),
        OpenAI.APIError,
        fail,
      );
      assert.equal(seen.join(""), delivered, `${fail}: the part before the failure arrived`);
    }
  });

  test("a failure of a non-streaming call is an error status, never a truncated 200", async () => {
    for (const fail of ["nofinish", "reset"]) {
      const res = await post(`${stack.url}/v1/chat/completions`, {
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: `[emulator fail=${fail} words=6]` }],
      });
      assert.ok(res.status >= 500, `${fail}: ${res.status}`);
      assertSchema("ErrorResponse", res.json());
    }
  });

  test("a blocked prompt is a content_filter choice, in JSON and in SSE", async () => {
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "[emulator fail=block]" }],
    });
    assertSchema("CreateChatCompletionResponse", completion);
    assert.equal(completion.choices[0]!.finish_reason, "content_filter");
    const stream = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      stream: true,
      messages: [{ role: "user", content: "[emulator fail=block]" }],
    });
    const finishes = [];
    for await (const chunk of stream) finishes.push(...chunk.choices.map((c) => c.finish_reason));
    assert.deepEqual(finishes.filter(Boolean), ["content_filter"]);
  });
});
