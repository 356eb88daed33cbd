import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ShutdownFanout } from "../../src/server/shutdown-fanout.ts";

describe("ShutdownFanout: one listener on the shutdown signal for every call", () => {
  test("ends the calls still registered, once, and a call added afterwards at once", () => {
    const shutdown = new AbortController();
    const fanout = new ShutdownFanout(shutdown.signal);
    const ended: string[] = [];
    const a = () => ended.push("a");
    const b = () => ended.push("b");
    const c = () => ended.push("c");
    fanout.add(a);
    fanout.add(b);
    fanout.add(c);
    fanout.delete(b);
    shutdown.abort();
    assert.deepEqual(ended, ["a", "c"]);
    shutdown.abort();
    assert.deepEqual(ended, ["a", "c"], "an end runs once");
    fanout.add(b);
    assert.deepEqual(ended, ["a", "c", "b"], "a call that arrives after shutdown ends at once");
  });
});
