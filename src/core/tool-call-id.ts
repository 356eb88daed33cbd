/**
 * Tool call ids as OpenAI clients see them. Gemini's thought signature must come back with its
 * call, and many clients rebuild assistant messages from id/type/function alone, dropping any
 * extra field; so the id itself carries the signature after a separator (LiteLLM's spelling,
 * which other tools already parse).
 */
const SEPARATOR = "__thought__";

/** Ids geminate made up (Gemini gave none); these are not sent back to Gemini as ids. */
export const GENERATED_PREFIX = "call_";

export function encodeToolCallId(id: string, signature: string): string {
  return signature ? `${id}${SEPARATOR}${signature}` : id;
}

export function decodeToolCallId(id: string): { id: string; signature: string } {
  const at = id.indexOf(SEPARATOR);
  return at < 0
    ? { id, signature: "" }
    : { id: id.slice(0, at), signature: id.slice(at + SEPARATOR.length) };
}
