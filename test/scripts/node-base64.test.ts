import assert from "node:assert/strict";
import { test } from "node:test";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { nodeBase64Decode, nodeBase64Encode } from "../../scripts/node-base64.ts";
import { nearBase64 } from "../helpers/near-base64.ts";

// The bundle's coders must give protobuf's answers exactly: the same bytes for every string
// Node decodes, and the same text for every encoding.

const bytesAt = fc
  .tuple(fc.uint8Array({ maxLength: 64 }), fc.nat(8), fc.nat(8))
  .map(([bytes, head, tail]) => {
    // A view into a larger buffer, as protobuf's readers hand out.
    const backing = new Uint8Array(head + bytes.length + tail).fill(0xa5);
    backing.set(bytes, head);
    return backing.subarray(head, head + bytes.length);
  });

test("decoding: wherever Node answers, it gives protobuf's bytes", () => {
  const encoded = fc
    .tuple(
      bytesAt,
      fc.constantFrom("std", "std_raw", "url") as fc.Arbitrary<"std" | "std_raw" | "url">,
    )
    .map(([bytes, encoding]) => base64Encode(bytes, encoding));
  fc.assert(
    fc.property(fc.oneof(nearBase64, encoded), (text) => {
      const ours = nodeBase64Decode(text);
      if (ours !== undefined) assert.deepEqual(ours, base64Decode(text), JSON.stringify(text));
    }),
    { numRuns: 5000 },
  );
});

test("decoding: Node answers for every string protobuf itself encodes", () => {
  fc.assert(
    fc.property(bytesAt, fc.constantFrom("std", "std_raw", "url"), (bytes, encoding) => {
      assert.deepEqual(nodeBase64Decode(base64Encode(bytes, encoding)), new Uint8Array(bytes));
    }),
  );
});

test("decoding: what protobuf refuses or reads its own way is left to protobuf", () => {
  for (const text of ["QQ== QQ==", "QQ==QQ==", "QUJD\nREVG", "QUJDR", "QU$J", "QUJD===", "é"])
    assert.equal(nodeBase64Decode(text), undefined, text);
});

test("encoding: protobuf's text in each of its three encodings", () => {
  fc.assert(
    fc.property(bytesAt, fc.constantFrom("std", "std_raw", "url"), (bytes, encoding) => {
      assert.equal(nodeBase64Encode(bytes, encoding), base64Encode(bytes, encoding));
    }),
  );
  assert.equal(nodeBase64Encode(new Uint8Array([0xfb, 0xff])), "+/8=");
});
