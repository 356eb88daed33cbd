import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { sseData } from "../helpers/sse.ts";
import { startStack, UPSTREAM_KEY } from "../helpers/stack.ts";

// A bounded chaos soak: hundreds of concurrent streams, random client aborts and upstream
// faults. Every stream ends complete or reported as failed, nothing is left open upstream, and
// no key or prompt text reaches the logs.

const STREAMS = 300;
const CLIENT_KEY = "sk-client-canary-5f1e";
const PROMPT = "prompt-canary-93ab";

/** A tiny deterministic generator, so a failing run can be replayed. */
function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

test("chaos soak: concurrent streams, aborts and faults", async () => {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const stack = await startStack({
    emulator: {},
    logs: sink,
    env: { GEMINATE_API_KEYS: CLIENT_KEY },
  });
  const rand = random(42);
  const faults = ["midstream", "nofinish", "reset", "malformed", "503", "429", "block"];
  const outcomes = { complete: 0, failed: 0, aborted: 0 };
  try {
    await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        const roll = rand();
        const fault = roll < 0.3 ? faults[Math.floor(rand() * faults.length)] : undefined;
        const abortAfter = roll > 0.75 ? Math.floor(rand() * 60) : undefined;
        const words = 5 + Math.floor(rand() * 30);
        const controller = new AbortController();
        try {
          const res = await fetch(`${stack.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}` },
            body: JSON.stringify({
              model: "gemini-2.5-flash",
              stream: true,
              messages: [
                {
                  role: "user",
                  content: `${PROMPT} ${i} [emulator words=${words} delay=2${fault ? ` fail=${fault}` : ""}]`,
                },
              ],
            }),
            signal: controller.signal,
          });
          // Leave mid-answer: once the stream has started, after a random while.
          if (abortAfter !== undefined) setTimeout(() => controller.abort(), abortAfter);
          const body = await res.text();
          if (res.status !== 200) {
            assert.ok(res.status >= 400, `stream ${i}: ${res.status}`);
            outcomes.failed++;
            return;
          }
          const data = sseData(body);
          assert.equal(data.at(-1), "[DONE]", `stream ${i} ends with [DONE]`);
          const failed = data.some((d) => d.startsWith('{"error"'));
          if (failed) outcomes.failed++;
          else {
            assert.ok(
              !fault || fault === "block",
              `stream ${i} with fault ${fault} must not end cleanly`,
            );
            assert.ok(
              data.some((d) => d.includes('"finish_reason":"')),
              `stream ${i} has a finish reason`,
            );
            outcomes.complete++;
          }
        } catch (err) {
          assert.ok(controller.signal.aborted, `stream ${i}: ${err}`);
          outcomes.aborted++;
        }
      }),
    );
    for (
      let i = 0;
      i < 200 && (stack.emulator!.stats.open > 0 || stack.gateway.upstreamInflight > 0);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(stack.emulator!.stats.open, 0, "no upstream stream left open");
    assert.equal(stack.gateway.upstreamInflight, 0, "no upstream call left in flight");
    assert.equal(outcomes.complete + outcomes.failed + outcomes.aborted, STREAMS);
    assert.ok(outcomes.complete > 0 && outcomes.failed > 0, JSON.stringify(outcomes));
  } finally {
    await stack.close();
  }
  const text = logs.join("");
  assert.ok(logs.length >= STREAMS, `one line per call (${logs.length})`);
  const cancels = logs.filter((l) => l.includes('"msg":"call cancelled by the client"')).length;
  assert.ok(
    cancels > 0 && cancels <= outcomes.aborted,
    `client leaves are logged as cancels (${cancels})`,
  );
  assert.ok(!logs.some((l) => l.includes('"level":50')), "no call is logged as a server error");
  for (const secret of [CLIENT_KEY, UPSTREAM_KEY, PROMPT])
    assert.ok(!text.includes(secret), `${secret} leaked into the logs`);
});
