import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChatService, FinishReason, Role } from "../../src/gen/geminate/v1/chat_pb.js";
import { type Stack, startStack } from "../helpers/stack.ts";

// A client that leaves aborts the upstream request: nothing keeps streaming for nobody.

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

describe("cancellation and backpressure over SSE", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ emulator: {} });
  });
  after(() => stack.close());

  test("a client leaving mid-stream closes the upstream stream", async () => {
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gemini-2.5-flash",
        stream: true,
        messages: [{ role: "user", content: "[emulator words=1000 delay=5]" }],
      }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    assert.equal(stack.emulator!.stats.open, 1);
    controller.abort();
    await until(() => stack.emulator!.stats.open === 0);
    assert.equal(stack.emulator!.stats.open, 0);
  });

  test("a client leaving before the first token closes the upstream request", async () => {
    const controller = new AbortController();
    const pending = fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gemini-2.5-flash",
        stream: true,
        messages: [{ role: "user", content: "[emulator words=5 delay=3000]" }],
      }),
      signal: controller.signal,
    }).catch(() => undefined);
    await until(() => stack.emulator!.stats.open === 1);
    controller.abort();
    await pending;
    await until(() => stack.emulator!.stats.open === 0);
    assert.equal(stack.emulator!.stats.open, 0);
  });

  test("a paused reader stops geminate reading the upstream, and the stream then completes", async () => {
    const words = 200_000;
    const before = stack.emulator!.stats.bytesWritten;
    const req = http.request(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    req.end(
      JSON.stringify({
        model: "gemini-2.5-flash",
        stream: true,
        messages: [{ role: "user", content: `[emulator words=${words} chunk=1]` }],
      }),
    );
    const res = await new Promise<http.IncomingMessage>((resolve) => req.once("response", resolve));
    res.pause();
    // Let the pipeline fill every buffer it has, then measure what the upstream could send.
    let last = -1;
    while (stack.emulator!.stats.bytesWritten !== last) {
      last = stack.emulator!.stats.bytesWritten;
      await new Promise((r) => setTimeout(r, 100));
    }
    const sentWhilePaused = stack.emulator!.stats.bytesWritten - before;
    const total = await (async () => {
      let text = "";
      res.setEncoding("utf8");
      res.resume();
      for await (const d of res) text += d;
      return text;
    })();
    const sentInAll = stack.emulator!.stats.bytesWritten - before;
    assert.ok(total.endsWith("data: [DONE]\n\n"));
    assert.equal((total.match(/"content":"[a-z]+ ?"/g) ?? []).length, words);
    // Kernel socket buffers on both hops hold a few MB on loopback; what matters is that the
    // upstream did not run to the end of the answer while the client was not reading.
    assert.ok(sentWhilePaused < sentInAll / 2, `paused: ${sentWhilePaused} of ${sentInAll} bytes`);
  });
});

describe("backpressure over HTTP/2 on both hops (gRPC caller, h2c upstream)", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      emulator: {},
      env: { GEMINI_H2C: "true", GEMINI_IDLE_TIMEOUT_MS: "300" },
    });
  });
  after(() => stack.close());

  test("a paused caller lets the upstream send only about one window ahead, and is never timed out for it", async () => {
    const words = 50_000;
    const client = createClient(ChatService, createGrpcTransport({ baseUrl: stack.url }));
    const before = stack.emulator!.stats.bytesWritten;
    const stream = client.streamComplete({
      model: "gemini-2.5-flash",
      messages: [
        {
          role: Role.USER,
          content: [{ part: { case: "text", value: `[emulator words=${words} chunk=1]` } }],
        },
      ],
    });
    const frames = stream[Symbol.asyncIterator]();
    assert.equal((await frames.next()).done, false);
    // Not reading: HTTP/2 flow control stops geminate's writes, geminate stops reading its
    // upstream stream, and Gemini's window runs out. No kernel buffer holds megabytes here.
    let last = -1;
    while (stack.emulator!.stats.bytesWritten !== last) {
      last = stack.emulator!.stats.bytesWritten;
      await new Promise((r) => setTimeout(r, 100));
    }
    const sentWhilePaused = stack.emulator!.stats.bytesWritten - before;
    // Silence is timed only while geminate waits for Gemini, not while it waits for its caller:
    // a pause of three idle timeouts must not end the answer.
    await new Promise((r) => setTimeout(r, 1_000));
    let count = 1;
    let finish = FinishReason.UNSPECIFIED;
    for (let f = await frames.next(); !f.done; f = await frames.next()) {
      count++;
      finish = f.value.choices[0]?.finishReason ?? finish;
    }
    const sentInAll = stack.emulator!.stats.bytesWritten - before;
    assert.equal(finish, FinishReason.STOP);
    assert.ok(count > words, `${count} frames`);
    // The whole answer is ~15 MB. Paused, Gemini gets one 128 KiB window ahead, plus what the
    // 32 held frames and the caller's 64 KiB window stand for: a gRPC frame is ~8× smaller than
    // the Gemini event it comes from, so ~1 MB in all. An HTTP/1.1 upstream adds megabytes of
    // kernel buffers (the SSE test above).
    assert.ok(
      sentWhilePaused < 2 * 1024 * 1024,
      `paused: ${sentWhilePaused} of ${sentInAll} bytes`,
    );
  });
});
