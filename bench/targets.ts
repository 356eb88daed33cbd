/** How each system under test is called: the same question, in its own wire format. */
export interface Target {
  readonly name: "direct" | "passthrough" | "geminate" | "portkey";
  readonly origin: string;
  readonly path: (stream: boolean) => string;
  readonly headers: Record<string, string>;
  readonly body: (prompt: string, stream: boolean) => string;
  /** Whether an SSE data payload carries answer text (not role-only, usage or [DONE]). */
  readonly isContent: (data: string) => boolean;
}

export interface Urls {
  emulator: string;
  geminate: string;
  passthrough?: string;
  portkey?: string;
}

const openaiBody = (prompt: string, stream: boolean) =>
  JSON.stringify({
    model: "gemini-2.5-flash",
    stream,
    messages: [{ role: "user", content: prompt }],
  });
const openaiContent = (data: string) =>
  data.includes('"content":"') && !data.includes('"content":""');

export function targets(urls: Urls, key: string): Target[] {
  // The emulator directly, and the pass-through in front of it, speak Gemini's own format.
  const gemini = (name: "direct" | "passthrough", origin: string): Target => ({
    name,
    origin,
    path: (stream) =>
      `/v1beta/models/gemini-2.5-flash:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
    headers: { "content-type": "application/json", "x-goog-api-key": key },
    body: (prompt) => JSON.stringify({ contents: [{ role: "user", parts: [{ text: prompt }] }] }),
    isContent: (data) => data.includes('"text": "') || data.includes('"text":"'),
  });
  const list: Target[] = [gemini("direct", urls.emulator)];
  if (urls.passthrough) list.push(gemini("passthrough", urls.passthrough));
  list.push({
    name: "geminate",
    origin: urls.geminate,
    path: () => "/v1/chat/completions",
    headers: { "content-type": "application/json" },
    body: openaiBody,
    isContent: openaiContent,
  });
  if (urls.portkey) {
    list.push({
      name: "portkey",
      origin: urls.portkey,
      path: () => "/v1/chat/completions",
      headers: {
        "content-type": "application/json",
        "x-portkey-provider": "google",
        "x-portkey-custom-host": urls.emulator,
        authorization: `Bearer ${key}`,
      },
      body: openaiBody,
      isContent: openaiContent,
    });
  }
  return list;
}
