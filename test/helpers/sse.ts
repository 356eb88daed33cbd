import assert from "node:assert/strict";
import { assertSchema } from "./schemas.ts";

/** The `data:` payloads of an OpenAI SSE body, in order ("[DONE]" included). */
export function sseData(body: string): string[] {
  const out: string[] = [];
  for (const event of body.split("\n\n")) {
    const data = event
      .split("\n")
      .filter((l) => l.startsWith("data: "))
      .map((l) => l.slice(6))
      .join("\n");
    if (data) out.push(data);
  }
  return out;
}

/** POSTs JSON to geminate and returns status, headers and body text. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/**
 * Streams one chat completion from geminate and returns its chunks, each checked against the
 * official schema; asserts a 200 that ends with `[DONE]`.
 */
export async function streamChunks(
  baseUrl: string,
  request: Record<string, unknown> = {},
  // biome-ignore lint/suspicious/noExplicitAny: chunks are navigated freely by the tests
): Promise<any[]> {
  const res = await post(`${baseUrl}/v1/chat/completions`, {
    model: "gemini-2.5-flash",
    stream: true,
    messages: [{ role: "user", content: "x" }],
    ...request,
  });
  assert.equal(res.status, 200, res.text);
  const data = sseData(res.text);
  assert.equal(data.at(-1), "[DONE]");
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  for (const c of chunks) assertSchema("CreateChatCompletionStreamResponse", c);
  return chunks;
}
