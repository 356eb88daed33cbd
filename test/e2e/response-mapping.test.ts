import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import OpenAI from "openai";
import { ChatService, FinishReason, Role } from "../../src/gen/geminate/v1/chat_pb.js";
import { startReplayUpstream } from "../helpers/replay-upstream.ts";
import { assertSchema, fixture } from "../helpers/schemas.ts";
import { streamChunks as streamed } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// Response side: recorded (and, where no recording exists, wire-exact synthetic) Gemini answers
// with tool calls, images, several candidates and logprobs, as OpenAI clients receive them.

/** Gemini's SSE framing of a list of events. */
const sse = (...events: object[]) =>
  events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join("");
const candidate = (parts: object[], extra: object = {}) => ({
  content: { parts, role: "model" },
  ...extra,
});

const PARALLEL_CALLS = sse(
  {
    candidates: [
      candidate([
        {
          functionCall: { name: "weather", args: { city: "Paris" } },
          thoughtSignature: "U0lHLTE=",
        },
      ]),
    ],
    responseId: "par",
  },
  {
    candidates: [
      candidate(
        [
          { functionCall: { name: "weather", args: { city: "Rome" } } },
          { functionCall: { name: "time", args: {} } },
        ],
        { finishReason: "STOP" },
      ),
    ],
    usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 9, totalTokenCount: 14 },
    responseId: "par",
  },
);

const TWO_CANDIDATES = sse(
  {
    candidates: [
      candidate([{ text: "A1" }], { index: 0 }),
      candidate([{ text: "B1" }], { index: 1 }),
    ],
  },
  {
    candidates: [
      candidate([{ text: " A2" }], { index: 0, finishReason: "STOP" }),
      candidate([{ text: " B2" }], { index: 1, finishReason: "MAX_TOKENS" }),
    ],
    usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 4, totalTokenCount: 6 },
  },
);

const LOGPROBS = sse({
  candidates: [
    candidate([{ text: "Hi" }], {
      finishReason: "STOP",
      logprobsResult: {
        topCandidates: [
          {
            candidates: [
              { token: "Hi", logProbability: -0.1 },
              { token: "Hey", logProbability: -2.5 },
            ],
          },
        ],
        chosenCandidates: [{ token: "Hi", logProbability: -0.1 }],
      },
    }),
  ],
});

describe("response mapping: Gemini answers as OpenAI clients see them", () => {
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

  const streamChunks = (body: Buffer | string, request: Record<string, unknown> = {}) => {
    upstream.reply({ body });
    return streamed(stack.url, request);
  };

  test("a streamed function call: one delta with index, id, name and arguments; finish tool_calls; reasoning apart", async () => {
    const chunks = await streamChunks(fixture("stream-function-call.sse"));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    assert.equal(calls.length, 1);
    const call = calls[0];
    assert.equal(call.index, 0);
    assert.equal(call.type, "function");
    assert.deepEqual(call.function, { name: "now", arguments: "{}" });
    const signature = call.extra_content.google.thought_signature as string;
    assert.match(signature, /^CiIBVKhc7vB/);
    assert.equal(call.id.split("__thought__")[1], signature, "the id carries the signature");
    assert.ok(chunks.some((c) => c.choices[0]?.delta.reasoning_content));
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "");
    const finishes = chunks
      .flatMap((c) => c.choices.map((x: { finish_reason: string }) => x.finish_reason))
      .filter(Boolean);
    assert.deepEqual(finishes, ["tool_calls"]);
  });

  test("a unary function call: message.tool_calls, content null, finish tool_calls", async () => {
    upstream.reply({
      contentType: "application/json",
      body: fixture("nonstream-function-call.json"),
    });
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "x" }],
    });
    assertSchema("CreateChatCompletionResponse", completion);
    const choice = completion.choices[0]!;
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, null);
    const call = choice.message.tool_calls![0]! as {
      id: string;
      type: string;
      function: { name: string; arguments: string };
    };
    assert.equal(call.function.name, "now");
    assert.match(call.id, /^call_\w+__thought__CtQOAVSoXO74/);
    assert.equal(
      (choice.message as { reasoning_content?: string }).reasoning_content?.startsWith(
        "**Thinking Through",
      ),
      true,
    );
  });

  test("parallel calls keep distinct indexes and ids across chunks, and assemble into distinct calls", async () => {
    upstream.reply({ body: PARALLEL_CALLS });
    const stream = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      stream: true,
      messages: [{ role: "user", content: "x" }],
    });
    const assembled = new Map<number, { id: string; name: string; arguments: string }>();
    for await (const chunk of stream) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        const prev = assembled.get(d.index) ?? { id: "", name: "", arguments: "" };
        assembled.set(d.index, {
          id: prev.id || (d.id ?? ""),
          name: prev.name || (d.function?.name ?? ""),
          arguments: prev.arguments + (d.function?.arguments ?? ""),
        });
      }
    }
    assert.deepEqual(
      [...assembled.entries()].map(([i, c]) => [i, c.name, JSON.parse(c.arguments)]),
      [
        [0, "weather", { city: "Paris" }],
        [1, "weather", { city: "Rome" }],
        [2, "time", {}],
      ],
    );
    assert.equal(new Set([...assembled.values()].map((c) => c.id)).size, 3);
  });

  test("a multi-turn tool conversation through the openai client keeps Gemini's thought signatures", async () => {
    upstream.reply({ body: fixture("stream-function-call.sse") });
    const tools = [
      {
        type: "function" as const,
        function: { name: "now", parameters: { type: "object", properties: {} } },
      },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: "user", content: "How many days until New Year's Eve?" },
    ];
    const stream = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      stream: true,
      tools,
      messages,
    });
    const calls: { id: string; name: string; arguments: string }[] = [];
    for await (const chunk of stream) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        calls[d.index] = {
          id: d.id ?? "",
          name: d.function?.name ?? "",
          arguments: d.function?.arguments ?? "",
        };
      }
    }
    // The client rebuilds the assistant turn from id/type/function only, as most SDK users do.
    messages.push({
      role: "assistant",
      content: null,
      tool_calls: calls.map((c) => ({
        id: c.id,
        type: "function",
        function: { name: c.name, arguments: c.arguments },
      })),
    });
    messages.push({ role: "tool", tool_call_id: calls[0]!.id, content: '{"now":"2026-11-25"}' });
    upstream.reply({ body: fixture("stream-text.sse") });
    const second = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      stream: true,
      tools,
      messages,
    });
    for await (const _ of second) {
      // drain
    }
    const body = JSON.parse(upstream.requests.at(-1)!.body) as {
      contents: { role: string; parts: Record<string, unknown>[] }[];
    };
    const recorded = /"thoughtSignature": "([^"]+)"/.exec(
      fixture("stream-function-call.sse").toString(),
    )![1];
    assert.deepEqual(body.contents[1], {
      role: "model",
      parts: [{ functionCall: { name: "now", args: {} }, thoughtSignature: recorded }],
    });
    assert.deepEqual(body.contents[2], {
      role: "user",
      parts: [{ functionResponse: { name: "now", response: { now: "2026-11-25" } } }],
    });
  });

  test("streamed images arrive as delta.images and as markdown in content, text kept in order", async () => {
    const chunks = await streamChunks(fixture("stream-image.sse"), {
      model: "gemini-2-5-flash-image",
    });
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    const png =
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQImWNwav0CAALIAbzDqqRyAAAAAElFTkSuQmCC";
    assert.equal(
      content,
      `Here's a cute cartoon kitten playing with a ball of yarn for you! ![image](data:image/png;base64,${png})`,
    );
    const images = chunks.flatMap((c) => c.choices[0]?.delta.images ?? []);
    assert.deepEqual(images, [
      { type: "image_url", image_url: { url: `data:image/png;base64,${png}` }, index: 0 },
    ]);
  });

  test("a unary image answer has message.images", async () => {
    upstream.reply({ contentType: "application/json", body: fixture("image-output.json") });
    const completion = await client.chat.completions.create({
      model: "gemini-2-5-flash-image",
      messages: [{ role: "user", content: "x" }],
    });
    assertSchema("CreateChatCompletionResponse", completion);
    const message = completion.choices[0]!.message as {
      content: string;
      images?: { image_url: { url: string } }[];
    };
    assert.equal(message.images?.length, 1);
    assert.match(message.images![0]!.image_url.url, /^data:image\/png;base64,iVBOR/);
    assert.equal(message.content, `![image](${message.images![0]!.image_url.url})`);
  });

  test("n candidates stream as choices by index, each with its own role and finish", async () => {
    const chunks = await streamChunks(TWO_CANDIDATES, { n: 2 });
    const text = (i: number) =>
      chunks
        .map((c) => c.choices.find((x: { index: number }) => x.index === i)?.delta.content ?? "")
        .join("");
    assert.equal(text(0), "A1 A2");
    assert.equal(text(1), "B1 B2");
    const finishes = chunks
      .flatMap((c) => c.choices)
      .filter((c: { finish_reason: string | null }) => c.finish_reason);
    assert.deepEqual(
      finishes
        .map((c: { index: number; finish_reason: string }) => [c.index, c.finish_reason])
        .sort(),
      [
        [0, "stop"],
        [1, "length"],
      ],
    );
    const roles = chunks
      .flatMap((c) => c.choices)
      .filter((c: { delta: { role?: string } }) => c.delta.role);
    assert.equal(roles.length, 2);
  });

  test("n candidates aggregate into choices in a unary answer", async () => {
    upstream.reply({
      contentType: "application/json",
      body: JSON.stringify({
        candidates: [
          candidate([{ text: "A" }], { index: 0, finishReason: "STOP" }),
          candidate([{ text: "B" }], { index: 1, finishReason: "STOP" }),
        ],
      }),
    });
    const completion = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      n: 2,
      messages: [{ role: "user", content: "x" }],
    });
    assertSchema("CreateChatCompletionResponse", completion);
    assert.deepEqual(
      completion.choices.map((c) => [c.index, c.message.content]),
      [
        [0, "A"],
        [1, "B"],
      ],
    );
  });

  test("Gemini 3's signature on text comes back as extra_content, streamed and unary", async () => {
    const chunks = await streamChunks(fixture("stream-text-gemini3.sse"), {
      model: "gemini-3-pro-preview",
    });
    const signed = chunks.filter((c) => c.choices[0]?.delta.extra_content);
    assert.equal(signed.length, 1);
    assert.ok(signed[0].choices[0].delta.extra_content.google.thought_signature.length > 20);
    upstream.reply({
      contentType: "application/json",
      body: fixture("nonstream-text-gemini3.json"),
    });
    const completion = await client.chat.completions.create({
      model: "gemini-3-pro-preview",
      messages: [{ role: "user", content: "x" }],
    });
    const message = completion.choices[0]!.message as {
      extra_content?: { google: { thought_signature: string } };
    };
    assert.ok(message.extra_content?.google.thought_signature);
  });

  test("over gRPC the same answers arrive as proto fields: tool calls with signatures, images as bytes", async () => {
    const grpc = createClient(ChatService, createGrpcTransport({ baseUrl: stack.url }));
    const request = (model: string) => ({
      model,
      messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: "x" } }] }],
    });
    upstream.reply({ body: fixture("stream-function-call.sse") });
    const frames = [];
    for await (const f of grpc.streamComplete(request("gemini-2.5-flash"))) frames.push(f);
    const calls = frames.flatMap((f) => f.choices.flatMap((c) => c.delta?.toolCalls ?? []));
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.name, "now");
    assert.equal(calls[0]!.arguments, "{}");
    assert.match(calls[0]!.thoughtSignature, /^CiIBVKhc7vB/);
    assert.ok(!calls[0]!.id.includes("__thought__"), "over gRPC the signature has its own field");
    assert.ok(
      frames.some((f) => f.choices.some((c) => c.finishReason === FinishReason.TOOL_CALLS)),
    );
    upstream.reply({ contentType: "application/json", body: fixture("image-output.json") });
    const completion = await grpc.complete(request("gemini-2-5-flash-image"));
    const image = completion.choices[0]!.message!.images[0]!;
    assert.equal(image.mimeType, "image/png");
    assert.deepEqual([...image.data.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  test("Vertex's streamed function-call arguments are assembled into whole calls", async () => {
    for (const [name, expected] of [
      [
        "stream-vertex-partial-args.sse",
        [
          ["getWeather", { location: "Boston" }],
          ["getWeather", { location: "San Francisco" }],
        ],
      ],
      [
        "stream-vertex-no-args-tool-call.sse",
        [
          ["read_theme", {}],
          ["read_screen", { id: "A" }],
          ["read_screen", { id: "B" }],
        ],
      ],
    ] as const) {
      const chunks = await streamChunks(fixture(name), { model: "gemini-3-pro-preview" });
      const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      const got = calls.map((c: { function: { name: string; arguments: string } }) => [
        c.function.name,
        JSON.parse(c.function.arguments),
      ]);
      assert.deepEqual(got.slice(0, expected.length), expected, name);
      assert.deepEqual(
        calls.map((c: { index: number }) => c.index),
        calls.map((_: unknown, i: number) => i),
        "distinct, stable indexes",
      );
      const finishes = chunks
        .flatMap((c) => c.choices)
        .filter((c: { finish_reason: string | null }) => c.finish_reason);
      assert.equal(finishes[0].finish_reason, "tool_calls");
    }
  });

  test("logprobs come back in OpenAI's shape", async () => {
    const chunks = await streamChunks(LOGPROBS, { logprobs: true, top_logprobs: 2 });
    const lp = chunks.find((c) => c.choices[0]?.logprobs)?.choices[0].logprobs;
    assert.deepEqual(lp, {
      content: [
        {
          token: "Hi",
          logprob: -0.1,
          bytes: [72, 105],
          top_logprobs: [
            { token: "Hi", logprob: -0.1, bytes: [72, 105] },
            { token: "Hey", logprob: -2.5, bytes: [72, 101, 121] },
          ],
        },
      ],
      refusal: null,
    });
  });
});
