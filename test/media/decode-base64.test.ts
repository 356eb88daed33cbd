import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodeBase64 } from "../../src/media/decode-base64.ts";
import { nearBase64 } from "../helpers/near-base64.ts";

// The decoder must accept exactly what this pattern accepts, and give the bytes encoded.
const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const valid = (text: string) => STANDARD.test(text) && text.length % 4 === 0;

test("accepts exactly standard padded base64", () => {
  // Valid text with one character changed: the cases a pattern and a decoder may disagree on.
  const mutated = fc
    .tuple(
      fc.uint8Array({ minLength: 1, maxLength: 12 }),
      fc.nat(),
      fc.constantFrom(..."=-_ \n$é%A"),
    )
    .map(([bytes, at, c]) => {
      const text = Buffer.from(bytes).toString("base64");
      const i = at % text.length;
      return text.slice(0, i) + c + text.slice(i + 1);
    });
  fc.assert(
    fc.property(fc.oneof(nearBase64, mutated), (text) => {
      assert.equal(decodeBase64(text) !== undefined, valid(text), JSON.stringify(text));
    }),
    { numRuns: 10_000 },
  );
});

test("gives back the bytes that were encoded", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      assert.deepEqual(decodeBase64(Buffer.from(bytes).toString("base64")), Buffer.from(bytes));
    }),
  );
});

test("refuses the URL alphabet, white space, inner and excess padding", () => {
  for (const text of ["-_-_", "QUJD REVG", "QUJD\nREVG", "QQ==QQ==", "Q===", "QUJ", "QQ=A"])
    assert.equal(decodeBase64(text), undefined, text);
});
