// Base64 for @bufbuild/protobuf in the production bundle (scripts/build.ts puts these in front of
// its own coders). On Node 24, V8 has no native Uint8Array base64, so protobuf falls back to a
// loop in JS: 14 to 80 ms of blocked event loop per MB of image in Connect JSON, and at start-up
// the embedded descriptors make V8 optimise that loop, which keeps ~5 MB more of the Node binary
// resident. Node's Buffer coder gives the same answer natively, for the strings where both agree.

/** Base64 characters of either alphabet, then at most two "=" and nothing else. */
const plain = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * The bytes of a base64 string as protobuf decodes it, or undefined where only protobuf's own
 * decoder knows the answer: white space, inner padding, invalid characters, a dangling character.
 */
export function nodeBase64Decode(text: string): Uint8Array | undefined {
  if (!plain.test(text)) return undefined;
  let chars = text.length;
  while (chars > 0 && text.charCodeAt(chars - 1) === 61 /* = */) chars--;
  // Each four characters are three bytes; a last group of one character is not base64.
  if (chars % 4 === 1) return undefined;
  const bytes = new Uint8Array((chars * 3) >> 2);
  const written = Buffer.from(bytes.buffer).write(text, "base64");
  return written === bytes.length ? bytes : undefined;
}

/** protobuf's encodings: "std" pads, "std_raw" does not, "url" is base64url without padding. */
export function nodeBase64Encode(bytes: Uint8Array, encoding: "std" | "std_raw" | "url" = "std") {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (encoding === "url") return buffer.toString("base64url");
  const text = buffer.toString("base64");
  return encoding === "std" ? text : text.replace(/=+$/, "");
}
