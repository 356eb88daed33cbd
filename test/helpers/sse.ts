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
