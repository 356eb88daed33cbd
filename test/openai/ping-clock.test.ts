import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PingClock } from "../../src/openai/ping-clock.ts";

describe("PingClock: one timer for every open SSE stream", () => {
  test("ticks each registered stream every half period, and stops when none is left", async () => {
    const clock = new PingClock(40);
    const ticks = { a: 0, b: 0 };
    const a = () => ticks.a++;
    const b = () => ticks.b++;
    clock.add(a);
    clock.add(b);
    await sleep(110);
    assert.ok(ticks.a >= 2, `a ticked ${ticks.a} times in 110 ms at a 20 ms tick`);
    assert.equal(ticks.a, ticks.b, "one timer ticks both");
    clock.delete(a);
    const before = { ...ticks };
    await sleep(60);
    assert.equal(ticks.a, before.a, "a removed stream is not ticked");
    assert.ok(ticks.b > before.b, "the other one still is");
    clock.delete(b);
    const last = ticks.b;
    await sleep(60);
    assert.equal(ticks.b, last);
    // With no stream left the timer is cleared: this test's process would otherwise not exit.
  });
});
