import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  ChatService,
  CompleteRequestSchema,
  ReasoningEffort,
  Role,
  ToolChoice_Mode,
} from "../../src/gen/geminate/v1/chat_pb.js";
import { startReplayUpstream } from "../helpers/replay-upstream.ts";
import { fixture } from "../helpers/schemas.ts";
import { post } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// Request side of the OpenAI → Gemini mapping: for each OpenAI request, the body the loopback
// upstream received.

const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQImWNwav0CAALIAbzDqqRyAAAAAElFTkSuQmCC",
  "base64",
);
const PDF = Buffer.from("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n");
const WAV = Buffer.concat([Buffer.from("RIFF\x24\x00\x00\x00WAVEfmt "), Buffer.alloc(28)]);
const user = (content: unknown) => [{ role: "user", content }];

type Case = [name: string, request: Record<string, unknown>, expected: Record<string, unknown>];

const CASES: Case[] = [
  [
    "reasoning_effort low on 2.5 Flash → budget 1024 with thoughts",
    { model: "gemini-2.5-flash", reasoning_effort: "low" },
    { generationConfig: { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } } },
  ],
  [
    "reasoning_effort none on 2.5 Flash → thinking off",
    { model: "gemini-2.5-flash", reasoning_effort: "none" },
    { generationConfig: { thinkingConfig: { thinkingBudget: 0, includeThoughts: false } } },
  ],
  [
    "reasoning_effort none on 2.5 Pro → its least budget (Pro cannot turn thinking off)",
    { model: "gemini-2.5-pro", reasoning_effort: "none" },
    { generationConfig: { thinkingConfig: { thinkingBudget: 128, includeThoughts: false } } },
  ],
  [
    "reasoning_effort high on 2.5 Pro → 24576",
    { model: "gemini-2.5-pro", reasoning_effort: "high" },
    { generationConfig: { thinkingConfig: { thinkingBudget: 24576, includeThoughts: true } } },
  ],
  [
    "reasoning_effort medium on 3 Pro → HIGH (3 Pro has LOW and HIGH only)",
    { model: "gemini-3-pro-preview", reasoning_effort: "medium" },
    { generationConfig: { thinkingConfig: { thinkingLevel: "HIGH", includeThoughts: true } } },
  ],
  [
    "reasoning_effort minimal on 3 Pro → LOW",
    { model: "gemini-3-pro-preview", reasoning_effort: "minimal" },
    { generationConfig: { thinkingConfig: { thinkingLevel: "LOW", includeThoughts: true } } },
  ],
  [
    "reasoning_effort minimal on 3 Flash → MINIMAL",
    { model: "gemini-3-flash-preview", reasoning_effort: "minimal" },
    { generationConfig: { thinkingConfig: { thinkingLevel: "MINIMAL", includeThoughts: true } } },
  ],
  [
    "-thinking alias → thought summaries",
    { model: "gemini-2.5-flash-thinking" },
    { generationConfig: { thinkingConfig: { includeThoughts: true } } },
  ],
  [
    "-thinking-<budget> → that budget, clamped",
    { model: "gemini-2.5-flash-thinking-99999" },
    { generationConfig: { thinkingConfig: { thinkingBudget: 24576, includeThoughts: true } } },
  ],
  [
    "-nothinking on 3 Pro → its lowest level",
    { model: "gemini-3-pro-preview-nothinking" },
    { generationConfig: { thinkingConfig: { thinkingLevel: "LOW", includeThoughts: false } } },
  ],
  [
    "google.thinking_config (extra_body) wins over reasoning_effort",
    {
      model: "gemini-2.5-flash",
      reasoning_effort: "high",
      extra_body: { google: { thinking_config: { thinking_budget: 77, include_thoughts: false } } },
    },
    { generationConfig: { thinkingConfig: { thinkingBudget: 77, includeThoughts: false } } },
  ],
  [
    "sampling: n, seed, penalties, logprobs, stop as a string",
    {
      model: "gemini-2.5-flash",
      n: 2,
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      logprobs: true,
      top_logprobs: 3,
      stop: "END",
    },
    {
      generationConfig: {
        candidateCount: 2,
        seed: 42,
        presencePenalty: 0.5,
        frequencyPenalty: -0.5,
        responseLogprobs: true,
        logprobs: 3,
        stopSequences: ["END"],
      },
    },
  ],
  [
    "response_format json_object",
    { model: "gemini-2.5-flash", response_format: { type: "json_object" } },
    { generationConfig: { responseMimeType: "application/json" } },
  ],
  [
    "response_format json_schema on 2.5 → responseJsonSchema as given",
    {
      model: "gemini-2.5-flash",
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "p",
          strict: true,
          schema: {
            type: "object",
            properties: { a: { type: "string" } },
            additionalProperties: false,
          },
        },
      },
    },
    {
      generationConfig: {
        responseMimeType: "application/json",
        responseJsonSchema: {
          type: "object",
          properties: { a: { type: "string" } },
          additionalProperties: false,
        },
      },
    },
  ],
  [
    "response_format json_schema on 2.0 → a cleaned responseSchema",
    {
      model: "gemini-2.0-flash",
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "p",
          schema: {
            $schema: "http://json-schema.org/draft-07/schema#",
            type: "object",
            additionalProperties: false,
            properties: {
              a: { type: ["string", "null"] },
              k: { const: "x" },
              r: { $ref: "#/$defs/R" },
            },
            $defs: { R: { type: "integer", exclusiveMinimum: 0 } },
          },
        },
      },
    },
    {
      generationConfig: {
        responseMimeType: "application/json",
        responseSchema: {
          type: "object",
          properties: {
            a: { type: "string", nullable: true },
            k: { enum: ["x"] },
            r: { type: "integer" },
          },
        },
      },
    },
  ],
  [
    "tools → functionDeclarations with parametersJsonSchema; tool_choice required → ANY",
    {
      model: "gemini-2.5-flash",
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Weather",
            strict: true,
            parameters: {
              type: "object",
              properties: { city: { type: "string" } },
              required: ["city"],
            },
          },
        },
      ],
      tool_choice: "required",
    },
    {
      tools: [
        {
          functionDeclarations: [
            {
              name: "get_weather",
              description: "Weather",
              parametersJsonSchema: {
                type: "object",
                properties: { city: { type: "string" } },
                required: ["city"],
              },
            },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: "ANY" } },
    },
  ],
  [
    "a named tool_choice → ANY restricted to it; old models get cleaned parameters",
    {
      model: "gemini-2.0-flash",
      tools: [
        {
          type: "function",
          function: {
            name: "f",
            parameters: {
              type: "object",
              additionalProperties: false,
              properties: { x: { type: "number", exclusiveMaximum: 3 } },
            },
          },
        },
      ],
      tool_choice: { type: "function", function: { name: "f" } },
    },
    {
      tools: [
        {
          functionDeclarations: [
            { name: "f", parameters: { type: "object", properties: { x: { type: "number" } } } },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["f"] } },
    },
  ],
  [
    "tool_choice none → NONE",
    {
      model: "gemini-2.5-flash",
      tools: [{ type: "function", function: { name: "f" } }],
      tool_choice: "none",
    },
    {
      tools: [{ functionDeclarations: [{ name: "f" }] }],
      toolConfig: { functionCallingConfig: { mode: "NONE" } },
    },
  ],
  [
    "image models answer with text and images",
    { model: "gemini-2-5-flash-image" },
    { generationConfig: { responseModalities: ["TEXT", "IMAGE"] } },
  ],
  [
    "google safety_settings and cached_content pass through",
    {
      model: "gemini-2.5-flash",
      google: {
        safety_settings: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_NONE" }],
        cached_content: "cachedContents/abc",
      },
    },
    {
      safetySettings: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_NONE" }],
      cachedContent: "cachedContents/abc",
    },
  ],
];

describe("request mapping: OpenAI → the body Gemini receives", () => {
  let upstream: Awaited<ReturnType<typeof startReplayUpstream>>;
  let stack: Stack;
  before(async () => {
    upstream = await startReplayUpstream();
    stack = await startStack({ upstreamUrl: upstream.url });
  });
  after(async () => {
    await stack.close();
    await upstream.close();
  });

  const sent = () => JSON.parse(upstream.requests.at(-1)!.body) as Record<string, unknown>;
  const call = async (body: Record<string, unknown>) => {
    upstream.reply({ body: fixture("stream-text.sse") });
    const res = await post(`${stack.url}/v1/chat/completions`, {
      messages: user("hi"),
      stream: true,
      ...body,
    });
    assert.equal(res.status, 200, res.text);
    return sent();
  };

  for (const [name, request, expected] of CASES) {
    test(name, async () => {
      const body = await call(request);
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(body[key], value, key);
    });
  }

  test("the model id sent upstream is the resolved one", async () => {
    await call({ model: "gemini-2-5-flash-image" });
    assert.match(
      upstream.requests.at(-1)!.path,
      /\/models\/gemini-2\.5-flash-image:streamGenerateContent/,
    );
    await call({ model: "models/gemini-2.5-flash-thinking-512" });
    assert.match(
      upstream.requests.at(-1)!.path,
      /\/models\/gemini-2\.5-flash:streamGenerateContent/,
    );
  });

  test("a tool conversation goes back as functionCall/functionResponse with signatures", async () => {
    const body = await call({
      model: "gemini-2.5-flash",
      messages: [
        { role: "user", content: "weather in Paris and Rome?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_a__thought__SIG-A",
              type: "function",
              function: { name: "weather", arguments: '{"city":"Paris"}' },
            },
            {
              id: "call_b",
              type: "function",
              function: { name: "weather", arguments: '{"city":"Rome"}' },
              extra_content: { google: { thought_signature: "SIG-B" } },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_a__thought__SIG-A", content: '{"temp":20}' },
        { role: "tool", tool_call_id: "call_b", content: "sunny" },
        {
          role: "assistant",
          content: "Paris 20, Rome sunny.",
          extra_content: { google: { thought_signature: "SIG-T" } },
        },
        { role: "user", content: "thanks" },
      ],
    });
    assert.deepEqual(body.contents, [
      { role: "user", parts: [{ text: "weather in Paris and Rome?" }] },
      {
        role: "model",
        parts: [
          { functionCall: { name: "weather", args: { city: "Paris" } }, thoughtSignature: "SIG-A" },
          { functionCall: { name: "weather", args: { city: "Rome" } }, thoughtSignature: "SIG-B" },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "weather", response: { temp: 20 } } },
          { functionResponse: { name: "weather", response: { content: "sunny" } } },
        ],
      },
      { role: "model", parts: [{ text: "Paris 20, Rome sunny.", thoughtSignature: "SIG-T" }] },
      { role: "user", parts: [{ text: "thanks" }] },
    ]);
  });

  test("Gemini-given call ids go back as ids; a Gemini 3 call without its signature gets the bypass value", async () => {
    const body = await call({
      model: "gemini-3-pro-preview",
      messages: [
        { role: "user", content: "x" },
        {
          role: "assistant",
          tool_calls: [
            { id: "fc-123", type: "function", function: { name: "f", arguments: "{}" } },
          ],
        },
        { role: "tool", tool_call_id: "fc-123", content: "[1,2]" },
      ],
    });
    assert.deepEqual((body.contents as unknown[]).slice(1), [
      {
        role: "model",
        parts: [
          {
            functionCall: { id: "fc-123", name: "f", args: {} },
            thoughtSignature: "skip_thought_signature_validator",
          },
        ],
      },
      {
        role: "user",
        parts: [{ functionResponse: { id: "fc-123", name: "f", response: { result: [1, 2] } } }],
      },
    ]);
  });

  test("media inputs: data URLs inline, PDFs as files, audio, gs:// and YouTube as fileData, detail on Gemini 3", async () => {
    const body = await call({
      model: "gemini-3-pro-preview",
      messages: user([
        { type: "text", text: "look" },
        {
          type: "image_url",
          image_url: { url: `data:image/png;base64,${PNG.toString("base64")}`, detail: "high" },
        },
        {
          type: "file",
          file: {
            filename: "a.pdf",
            file_data: `data:application/pdf;base64,${PDF.toString("base64")}`,
          },
        },
        { type: "input_audio", input_audio: { data: WAV.toString("base64"), format: "wav" } },
        { type: "image_url", image_url: { url: "gs://bucket/cat.jpg" } },
        { type: "image_url", image_url: { url: "https://www.youtube.com/watch?v=abc" } },
        { type: "file", file: { file_id: "files/abc-123" } },
      ]),
    });
    assert.deepEqual((body.contents as { parts: unknown[] }[])[0]!.parts, [
      { text: "look" },
      {
        inlineData: { mimeType: "image/png", data: PNG.toString("base64") },
        mediaResolution: { level: "MEDIA_RESOLUTION_HIGH" },
      },
      { inlineData: { mimeType: "application/pdf", data: PDF.toString("base64") } },
      { inlineData: { mimeType: "audio/wav", data: WAV.toString("base64") } },
      { fileData: { fileUri: "gs://bucket/cat.jpg", mimeType: "image/jpeg" } },
      { fileData: { fileUri: "https://www.youtube.com/watch?v=abc" } },
      { fileData: { fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc-123" } },
    ]);
  });

  const BAD: [string, Record<string, unknown>, string][] = [
    [
      "a data URL whose bytes are not its type",
      {
        messages: user([
          {
            type: "image_url",
            image_url: { url: `data:image/png;base64,${PDF.toString("base64")}` },
          },
        ]),
      },
      "messages[0].content[0]",
    ],
    [
      "broken base64",
      { messages: user([{ type: "image_url", image_url: { url: "data:image/png;base64,%%%" } }]) },
      "messages[0].content[0]",
    ],
    [
      "an unsupported media type",
      {
        messages: user([
          {
            type: "image_url",
            image_url: { url: "data:application/x-msdownload;base64,TVqQAAMAAAAEAAAA" },
          },
        ]),
      },
      "messages[0].content[0]",
    ],
    [
      "an ftp URL",
      { messages: user([{ type: "image_url", image_url: { url: "ftp://example.com/a.png" } }]) },
      "messages[0].content[0]",
    ],
    [
      "tool arguments that are not JSON",
      {
        messages: [
          { role: "user", content: "x" },
          {
            role: "assistant",
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "f", arguments: "{oops" } },
            ],
          },
        ],
      },
      "messages[1].tool_calls[0].function.arguments",
    ],
    [
      "a tool message answering no call",
      {
        messages: [
          { role: "user", content: "x" },
          { role: "tool", tool_call_id: "call_zzz", content: "1" },
        ],
      },
      "messages[1].tool_call_id",
    ],
    [
      "a named tool_choice that is not a tool",
      {
        messages: user("x"),
        tools: [{ type: "function", function: { name: "f" } }],
        tool_choice: { type: "function", function: { name: "g" } },
      },
      "tool_choice",
    ],
    ["n out of range", { messages: user("x"), n: 9 }, "n"],
    ["top_logprobs without logprobs", { messages: user("x"), top_logprobs: 2 }, "top_logprobs"],
    [
      "an unknown reasoning_effort",
      { messages: user("x"), reasoning_effort: "extreme" },
      "reasoning_effort",
    ],
  ];
  for (const [name, body, param] of BAD) {
    test(`${name} → 400 naming ${param}, nothing sent upstream`, async () => {
      const before = upstream.requests.length;
      const res = await post(`${stack.url}/v1/chat/completions`, {
        model: "gemini-2.5-flash",
        ...body,
      });
      assert.equal(res.status, 400, res.text);
      assert.equal((res.json() as { error: { param: string } }).error.param, param);
      assert.equal(upstream.requests.length, before);
    });
  }

  test("gRPC callers get the same mapping through the proto fields", async () => {
    upstream.reply({ body: fixture("stream-text.sse") });
    const client = createClient(ChatService, createGrpcTransport({ baseUrl: stack.url }));
    const request = create(CompleteRequestSchema, {
      model: "gemini-3-flash-preview",
      messages: [
        {
          role: Role.USER,
          content: [
            { part: { case: "text", value: "hi" } },
            {
              part: {
                case: "image",
                value: { source: { case: "data", value: PNG }, mimeType: "image/png" },
              },
            },
          ],
        },
      ],
      reasoningEffort: ReasoningEffort.LOW,
      tools: [{ name: "f", parametersJson: '{"type":"object"}' }],
      toolChoice: { mode: ToolChoice_Mode.AUTO },
      n: 2,
    });
    for await (const _ of client.streamComplete(request)) {
      // drain
    }
    const body = sent();
    assert.deepEqual(body.generationConfig, {
      candidateCount: 2,
      thinkingConfig: { thinkingLevel: "LOW", includeThoughts: true },
    });
    assert.deepEqual(body.toolConfig, { functionCallingConfig: { mode: "AUTO" } });
    assert.deepEqual((body.contents as { parts: unknown[] }[])[0]!.parts[1], {
      inlineData: { mimeType: "image/png", data: PNG.toString("base64") },
    });
  });
});
