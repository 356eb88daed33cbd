import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import OpenAI from "openai";
import { ChatService, Role } from "../../src/gen/geminate/v1/chat_pb.js";
import { startReplayUpstream } from "../helpers/replay-upstream.ts";
import { fixture } from "../helpers/schemas.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// What operators see: GenAI metrics at /metrics after OpenAI and gRPC calls, and spans that
// continue the caller's trace and pass it on to Gemini.

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

/** The value of one series in Prometheus text, or undefined. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(" ").at(-1));
  }
  return undefined;
}

describe("metrics and tracing", () => {
  let upstream: Awaited<ReturnType<typeof startReplayUpstream>>;
  let stack: Stack;
  const spans = new InMemorySpanExporter();
  before(async () => {
    upstream = await startReplayUpstream();
    stack = await startStack({ upstreamUrl: upstream.url, spanExporter: spans });
  });
  after(async () => {
    await stack.close();
    await upstream.close();
  });

  test("GenAI series after OpenAI and gRPC calls, with protocol, model and token labels", async () => {
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "x", maxRetries: 0 });
    upstream.reply({ body: fixture("stream-text.sse") });
    const stream = await client.chat.completions.create({
      model: "gemini-2.5-flash",
      stream: true,
      messages: [{ role: "user", content: "x" }],
    });
    for await (const _ of stream) {
      // drain
    }
    upstream.reply({ contentType: "application/json", body: fixture("nonstream-text.json") });
    await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "x" }],
    });
    upstream.reply({ body: fixture("stream-text.sse") });
    const grpc = createClient(ChatService, createGrpcTransport({ baseUrl: stack.url }));
    for await (const _ of grpc.streamComplete({
      model: "gemini-2.5-flash",
      messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "x" } }] }],
    })) {
      // drain
    }
    await client.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] })
      .catch(() => {});

    const text = await (await fetch(`${stack.url}/metrics`)).text();
    const model = {
      gen_ai_request_model: "gemini-2.5-flash",
      gen_ai_provider_name: "gcp.gemini",
      gen_ai_operation_name: "chat",
    };
    assert.equal(
      series(text, "gen_ai_server_request_duration_seconds_count", {
        ...model,
        protocol: "openai",
        status: "200",
      }),
      2,
    );
    assert.equal(
      series(text, "gen_ai_server_request_duration_seconds_count", { ...model, protocol: "grpc" }),
      1,
    );
    assert.equal(
      series(text, "gen_ai_server_request_duration_seconds_count", {
        gen_ai_request_model: "unknown",
        protocol: "openai",
        status: "404",
      }),
      1,
    );
    assert.equal(
      series(text, "gen_ai_server_time_to_first_token_seconds_count", {
        ...model,
        protocol: "openai",
      }),
      1,
    );
    // stream-text.sse reports 7 input and 10 output tokens; nonstream-text.json 7 and 22.
    assert.equal(
      series(text, "gen_ai_server_token_usage_sum", {
        ...model,
        protocol: "openai",
        gen_ai_token_type: "output",
      }),
      32,
    );
    assert.equal(
      series(text, "gen_ai_client_token_usage_sum", { ...model, gen_ai_token_type: "input" }),
      21,
    );
    assert.equal(series(text, "gen_ai_client_operation_duration_seconds_count", model), 3);
    assert.equal(
      series(text, "gen_ai_client_operation_time_to_first_chunk_seconds_count", model),
      3,
    );
    assert.ok(text.includes('geminate_upstream_keys{state="active"} 1'));
    assert.ok(text.includes("geminate_upstream_inflight 0"));
    assert.ok(text.includes("process_resident_memory_bytes"));
  });

  test("a call continues the caller's trace, and the trace goes on to Gemini", async () => {
    upstream.reply({ contentType: "application/json", body: fixture("nonstream-text.json") });
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: TRACEPARENT },
      body: JSON.stringify({
        model: "gemini-2.5-flash",
        messages: [{ role: "user", content: "x" }],
      }),
    });
    assert.equal(res.status, 200);
    const upstreamTraceparent = upstream.requests.at(-1)!.headers.traceparent as string;
    assert.match(upstreamTraceparent, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    upstream.reply({ body: fixture("stream-text.sse") });
    const grpc = createClient(
      ChatService,
      createGrpcTransport({
        baseUrl: stack.url,
        interceptors: [
          (next) => (req) => {
            req.header.set(
              "traceparent",
              TRACEPARENT.replace("00f067aa0ba902b7", "00f067aa0ba902b8"),
            );
            return next(req);
          },
        ],
      }),
    );
    await grpc
      .complete({
        model: "gemini-2.5-flash",
        messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "x" } }] }],
      })
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    let found = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID);
    for (let i = 0; i < 60 && found.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID);
    }
    assert.equal(found.length, 2, "one span per call, both in the caller's trace");
    const http = found.find((s) => s.attributes["geminate.protocol"] === "openai")!;
    assert.equal(http.name, "chat gemini-2.5-flash");
    assert.equal(http.parentSpanContext?.spanId, "00f067aa0ba902b7");
    assert.equal(http.attributes["gen_ai.usage.output_tokens"], 22);
    assert.equal(http.attributes["gen_ai.provider.name"], "gcp.gemini");
    assert.ok(
      upstreamTraceparent.includes(http.spanContext().spanId),
      "Gemini's parent is the call's span",
    );
  });
});
