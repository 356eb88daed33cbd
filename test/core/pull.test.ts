import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { Observable } from "rxjs";
import { Flow } from "../../src/core/flow.ts";
import { pull } from "../../src/core/pull.ts";

/** A source that behaves like the upstream reader: it waits while the flow is paused. */
function producer(count: number, flow: Flow) {
  const state = { produced: 0, tornDown: false };
  const source = new Observable<number>((subscriber) => {
    const abort = new AbortController();
    void (async () => {
      for (let i = 0; i < count && !abort.signal.aborted; i++) {
        if (flow.paused) await flow.ready(abort.signal);
        if (abort.signal.aborted) return;
        subscriber.next(i);
        state.produced++;
        await tick();
      }
      subscriber.complete();
    })();
    return () => {
      state.tornDown = true;
      abort.abort();
    };
  });
  return { source, state };
}

test("a consumer that stops pulling stops the producer within the high-water mark", async () => {
  const flow = new Flow();
  const { source, state } = producer(1_000, flow);
  const frames = pull(source, flow, new AbortController().signal, 8);
  assert.deepEqual(await frames.next(), { value: 0, done: false });
  for (let i = 0; i < 50; i++) await tick();
  assert.ok(state.produced <= 9, `produced ${state.produced} while the consumer was away`);
  const rest: number[] = [];
  for await (const n of frames) rest.push(n);
  assert.equal(rest.length, 999);
  assert.deepEqual(rest.slice(0, 3), [1, 2, 3]);
  assert.equal(rest.at(-1), 999);
});

test("an aborted signal rejects the pending pull with Canceled and tears the source down", async () => {
  const flow = new Flow();
  const { source, state } = producer(1_000, flow);
  const call = new AbortController();
  const frames = pull(source, flow, call.signal, 8);
  await frames.next();
  for (let i = 0; i < 20; i++) await tick();
  call.abort();
  const err = await frames.next().catch((e: unknown) => e);
  assert.ok(err instanceof ConnectError);
  assert.equal(err.code, Code.Canceled);
  assert.ok(state.tornDown);
});

test("a deadline's ConnectError reason is reported as is", async () => {
  const flow = new Flow();
  const { source } = producer(10, flow);
  const call = new AbortController();
  const frames = pull(source, flow, call.signal);
  call.abort(new ConnectError("deadline", Code.DeadlineExceeded));
  const err = await frames.next().catch((e: unknown) => e);
  assert.equal((err as ConnectError).code, Code.DeadlineExceeded);
});

test("a source error after frames is delivered after them", async () => {
  const source = new Observable<number>((s) => {
    s.next(1);
    s.next(2);
    s.error(new ConnectError("upstream broke", Code.Unavailable));
  });
  const frames = pull(source, new Flow(), new AbortController().signal);
  assert.equal((await frames.next()).value, 1);
  assert.equal((await frames.next()).value, 2);
  const err = await frames.next().catch((e: unknown) => e);
  assert.equal((err as ConnectError).code, Code.Unavailable);
});

test("returning early unsubscribes", async () => {
  const flow = new Flow();
  const { source, state } = producer(100, flow);
  const frames = pull(source, flow, new AbortController().signal);
  await frames.next();
  await frames.return?.();
  assert.ok(state.tornDown);
});
