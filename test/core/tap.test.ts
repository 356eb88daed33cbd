import assert from "node:assert/strict";
import { test } from "node:test";
import { tap } from "../../src/core/tap.ts";

async function* numbers(fail?: Error) {
  yield 1;
  yield 2;
  if (fail) throw fail;
  yield 3;
}

test("tap sees every value and ends once when the source is done", async () => {
  const seen: number[] = [];
  const ends: unknown[] = [];
  const out: number[] = [];
  for await (const n of tap(
    numbers(),
    (v) => seen.push(v),
    (e) => ends.push(e),
  ))
    out.push(n);
  assert.deepEqual(out, [1, 2, 3]);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(ends, [undefined]);
});

test("tap passes a failure through and ends once with it", async () => {
  const boom = new Error("boom");
  const ends: unknown[] = [];
  await assert.rejects(async () => {
    for await (const _ of tap(
      numbers(boom),
      () => {},
      (e) => ends.push(e),
    )) {
      // drain
    }
  }, boom);
  assert.deepEqual(ends, [boom]);
});

test("a consumer that stops early closes the source and ends once", async () => {
  let closed = false;
  const source = (async function* () {
    try {
      yield 1;
      yield 2;
    } finally {
      closed = true;
    }
  })();
  const ends: unknown[] = [];
  for await (const _ of tap(
    source,
    () => {},
    (e) => ends.push(e),
  ))
    break;
  assert.ok(closed, "the source's finally ran");
  assert.deepEqual(ends, [undefined]);
});
