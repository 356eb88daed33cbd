import { exactBase64 } from "../src/media/decode-base64.ts";

// Base64 for @bufbuild/protobuf in the production bundle (scripts/build.ts puts these in front of
// its own coders). On Node 24, V8 has no native Uint8Array base64, so protobuf falls back to a
// loop in JS: 14 to 80 ms of blocked event loop per MB of image in Connect JSON, and at start-up
// the embedded descriptors make V8 optimise that loop, which keeps ~5 MB more of the Node binary
// resident. Node's Buffer coder gives the same answer natively, for the texts it reads whole.

/**
 * The bytes of a base64 string as protobuf decodes it, or undefined where only protobuf's own
 * decoder knows the answer: white space, inner padding, invalid characters, a dangling character.
 */
export function nodeBase64Decode(text: string): Uint8Array | undefined {
  const bytes = exactBase64(text);
  return bytes && new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** protobuf's encodings: "std" pads, "std_raw" does not, "url" is base64url without padding. */
export function nodeBase64Encode(bytes: Uint8Array, encoding: "std" | "std_raw" | "url" = "std") {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (encoding === "url") return buffer.toString("base64url");
  const text = buffer.toString("base64");
  return encoding === "std" ? text : text.replace(/=+$/, "");
}
