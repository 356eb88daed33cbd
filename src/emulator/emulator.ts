import type http from "node:http";
import { knownUpstreamModels } from "../core/models.ts";
import { drained } from "../server/drained.ts";
import { OnePortServer } from "../server/one-port-server.ts";
import { fillerWords, readScript, type Script } from "./script.ts";

export interface EmulatorOptions extends Partial<Omit<Script, "fail">> {
  /** The key callers must send (`x-goog-api-key` or `?key=`). */
  apiKey: string;
  host?: string;
  port?: number;
}

export interface Emulator {
  /** Base URL to use as GEMINI_BASE_URL. */
  readonly url: string;
  /** What the emulator has seen and sent, for tests and benchmarks. */
  /** `open`: streams being answered now; `peakOpen`: the most at once so far. */
  readonly stats: { requests: number; bytesWritten: number; open: number; peakOpen: number };
  /** The request bodies received, newest last (bounded). */
  readonly received: unknown[];
  /** Open client connections (HTTP/1.1 and HTTP/2). */
  readonly connections: number;
  close(): Promise<void>;
}

interface GeminiPart {
  text?: string;
}
interface GeminiRequest {
  contents?: { role?: string; parts?: GeminiPart[] }[];
  systemInstruction?: { parts?: GeminiPart[] };
  generationConfig?: {
    maxOutputTokens?: number;
    stopSequences?: string[];
    thinkingConfig?: { includeThoughts?: boolean };
  };
}

const JSON_TYPE = "application/json; charset=UTF-8";

/**
 * An embedded Gemini: a real HTTP server speaking the Developer API's REST wire format
 * (reference/gemini-wire.md §12): pretty-printed unary JSON, `data: …\r\n\r\n` SSE without
 * [DONE], the JSON-array stream without `alt=sse`, google.rpc.Status error bodies, key checks.
 * Answers are deterministic and scriptable (see Script).
 */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const defaults: Script = {
    words: options.words ?? 0,
    chunk: options.chunk ?? 1,
    delay: options.delay ?? 0,
    think: options.think ?? 12,
    fail: undefined,
  };
  const stats = { requests: 0, bytesWritten: 0, open: 0, peakOpen: 0 };
  const received: unknown[] = [];
  const models = new Set(knownUpstreamModels());

  // HTTP/1.1 and HTTP/2 (h2c) on one port, like Gemini's HTTP/1.1 and HTTP/2 over TLS.
  // The HTTP/2 compatibility request/response have every method used here.
  const server = new OnePortServer((anyReq, anyRes) => {
    const req = anyReq as http.IncomingMessage;
    const res = anyRes as http.ServerResponse;
    stats.requests++;
    const write = (chunk: string, done?: () => void) => {
      stats.bytesWritten += Buffer.byteLength(chunk);
      return res.write(chunk, done);
    };
    const url = new URL(req.url ?? "/", "http://emulator");
    // Not part of Gemini: what the emulator has sent, for benchmarks in another process.
    if (url.pathname === "/_emulator/stats") return sendJson(res, 200, stats);
    const key = req.headers["x-goog-api-key"] ?? url.searchParams.get("key");
    if (!key) return sendStatus(res, 403, "PERMISSION_DENIED", NO_KEY_MESSAGE);
    if (key !== options.apiKey) return sendApiKeyInvalid(res);

    const route = /^\/v1beta\/models(?:\/(?:models\/)?([^/:]+)(?::(\w+))?)?$/.exec(url.pathname);
    if (!route) return sendStatus(res, 404, "NOT_FOUND", `Method not found: ${url.pathname}`);
    const [, model, method] = route;
    if (req.method === "GET" && !model) {
      return sendJson(res, 200, { models: [...models].map(modelJson) });
    }
    if (req.method === "GET" && model && !method) {
      return models.has(model)
        ? sendJson(res, 200, modelJson(model))
        : sendStatus(res, 404, "NOT_FOUND", `models/${model} is not found for API version v1beta`);
    }
    if (req.method !== "POST" || !model || !method) {
      return sendStatus(res, 404, "NOT_FOUND", `Method not found: ${url.pathname}`);
    }
    if (method !== "generateContent" && method !== "streamGenerateContent") {
      return sendStatus(res, 404, "NOT_FOUND", `Method not found: ${method}`);
    }
    if (!models.has(model)) {
      return sendStatus(
        res,
        404,
        "NOT_FOUND",
        `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
      );
    }
    readBody(req).then(
      (text) => {
        let body: GeminiRequest;
        try {
          body = JSON.parse(text) as GeminiRequest;
        } catch {
          return sendStatus(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        }
        received.push(body);
        if (received.length > 100) received.shift();
        if (!Array.isArray(body.contents) || body.contents.length === 0) {
          return sendStatus(
            res,
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified\n",
          );
        }
        const answer = plan(body, readScript(defaults, lastUserText(body)), model);
        if (method === "generateContent") return sendUnary(res, answer);
        const sse = url.searchParams.get("alt") === "sse";
        stats.open++;
        stats.peakOpen = Math.max(stats.peakOpen, stats.open);
        res.once("close", () => stats.open--);
        void sendStream(res, answer, sse, write);
      },
      () => res.destroy(),
    );
  });

  const address = await server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    stats,
    received,
    get connections() {
      return server.connections;
    },
    close: () => server.close(0),
  };
}

/** One answer, fully decided before the first byte: events to send and how. */
interface Answer {
  script: Script;
  /** The stream's events, in order. */
  events: object[];
  /** The same answer as generateContent returns it: one response with every part. */
  whole: object;
  /** A fault to inject instead of the HTTP 200. */
  status?: { code: number; status: string; message: string; details?: object[] };
}

function plan(body: GeminiRequest, script: Script, model: string): Answer {
  const responseId = responseIdOf(body);
  const promptTokens = countWords(
    [
      ...(body.systemInstruction?.parts ?? []),
      ...(body.contents ?? []).flatMap((c) => c.parts ?? []),
    ]
      .map((p) => p.text ?? "")
      .join(" "),
  );
  const common = { modelVersion: model, responseId };
  const fault = script.fail;
  if (fault && /^\d+$/.test(fault)) {
    return { script, events: [], whole: {}, status: faultStatus(Number(fault)) };
  }
  if (fault === "block") {
    const blocked = {
      promptFeedback: { blockReason: "SAFETY" },
      usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens },
      ...common,
    };
    return { script, events: [blocked], whole: blocked };
  }

  const config = body.generationConfig ?? {};
  let words =
    script.words > 0 ? fillerWords(script.words) : `You said: ${lastUserText(body)}`.split(" ");
  let finishReason = "STOP";
  const limit = config.maxOutputTokens;
  if (limit !== undefined && words.length > limit) {
    words = words.slice(0, limit);
    finishReason = "MAX_TOKENS";
  }
  let text = words.join(" ");
  for (const stop of config.stopSequences ?? []) {
    const at = text.indexOf(stop);
    if (stop && at >= 0) text = text.slice(0, at);
  }
  const pieces: string[] = [];
  const tokens = text.split(/(?<= )/);
  for (let i = 0; i < tokens.length; i += script.chunk) {
    pieces.push(tokens.slice(i, i + script.chunk).join(""));
  }
  if (pieces.length === 0) pieces.push("");

  const thoughts = config.thinkingConfig?.includeThoughts ? script.think : 0;
  const events: object[] = [];
  const usage = (candidates: number, final: boolean) => ({
    promptTokenCount: promptTokens,
    ...(candidates > 0 && { candidatesTokenCount: candidates }),
    totalTokenCount: promptTokens + candidates + thoughts,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: promptTokens }],
    ...(final &&
      candidates > 0 && {
        candidatesTokensDetails: [{ modality: "TEXT", tokenCount: candidates }],
      }),
    ...(thoughts > 0 && { thoughtsTokenCount: thoughts }),
  });
  if (thoughts > 0) {
    const thought = { text: thoughtText(thoughts), thought: true };
    events.push({
      candidates: [{ content: { parts: [thought], role: "model" }, index: 0 }],
      usageMetadata: usage(0, false),
      ...common,
    });
  }
  let emitted = 0;
  pieces.forEach((piece, i) => {
    const last = i === pieces.length - 1;
    emitted += countWords(piece);
    events.push({
      candidates: [
        {
          content: { parts: [{ text: piece }], role: "model" },
          ...(last && fault !== "nofinish" && { finishReason }),
          index: 0,
        },
      ],
      usageMetadata: usage(emitted, last),
      ...common,
    });
  });
  const whole = {
    candidates: [
      {
        content: {
          parts: [
            ...(thoughts > 0 ? [{ text: thoughtText(thoughts), thought: true }] : []),
            { text: pieces.join("") },
          ],
          role: "model",
        },
        ...(fault !== "nofinish" && { finishReason }),
        index: 0,
      },
    ],
    usageMetadata: usage(emitted, true),
    ...common,
  };
  return { script, events, whole };
}

function sendUnary(res: http.ServerResponse, answer: Answer): void {
  if (answer.status) sendFault(res, answer.status);
  else if (answer.script.fail === "reset") res.destroy();
  else sendJson(res, 200, answer.whole);
}

async function sendStream(
  res: http.ServerResponse,
  answer: Answer,
  sse: boolean,
  write: (chunk: string, done?: () => void) => boolean,
): Promise<void> {
  // Never an empty chunk: Node's HTTP/2 compatibility response corrupts the DATA of a batch of
  // writes made in one tick when one of them is empty (seen on Node 24.21).
  if (answer.status) return sendFault(res, answer.status);
  let closed = false;
  res.once("close", () => {
    closed = true;
  });
  res.writeHead(200, {
    "content-type": sse ? "text/event-stream" : JSON_TYPE,
    "content-disposition": "attachment",
    "x-content-type-options": "nosniff",
  });
  const { script, events } = answer;
  for (let i = 0; i < events.length && !closed; i++) {
    if (script.delay > 0) await sleep(script.delay);
    if (closed) return;
    const json = JSON.stringify(events[i]);
    const frame = sse ? `data: ${json}\r\n\r\n` : `${i === 0 ? "[" : ",\r\n"}${json}\n`;
    if (i === 0 && script.fail === "reset") {
      // Once the event is on the wire, drop the connection without ending the response.
      write(frame, () => res.destroy());
      return;
    }
    if (!write(frame)) await drained(res);
    if (i === 0 && script.fail === "malformed") {
      write(sse ? 'data: {"candidates": [{"content\r\n\r\n' : ',\r\n{"candidates\n');
      return void res.end();
    }
    if (i === 0 && script.fail === "midstream" && events.length > 0) {
      write(
        `${JSON.stringify({ error: { code: 503, message: "The model is overloaded. Please try again later.", status: "UNAVAILABLE" } }, null, 2)}\n`,
      );
      return void res.end();
    }
  }
  if (closed) return;
  if (sse) res.end();
  else res.end("]");
}

const NO_KEY_MESSAGE =
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";

function faultStatus(code: number): NonNullable<Answer["status"]> {
  switch (code) {
    case 400:
      return { code, status: "INVALID_ARGUMENT", message: "Request contains an invalid argument." };
    case 403:
      return {
        code,
        status: "PERMISSION_DENIED",
        message: "Permission denied on resource project.",
      };
    case 404:
      return { code, status: "NOT_FOUND", message: "Requested entity was not found." };
    case 429:
      return {
        code,
        status: "RESOURCE_EXHAUSTED",
        message:
          "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "26s" }],
      };
    case 503:
      return {
        code,
        status: "UNAVAILABLE",
        message: "The model is overloaded. Please try again later.",
      };
    default:
      return {
        code: 500,
        status: "INTERNAL",
        message:
          "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
      };
  }
}

function sendFault(res: http.ServerResponse, fault: NonNullable<Answer["status"]>): void {
  sendStatus(res, fault.code, fault.status, fault.message, fault.details);
}

function sendStatus(
  res: http.ServerResponse,
  code: number,
  status: string,
  message: string,
  details?: object[],
): void {
  sendJson(res, code, { error: { code, message, status, ...(details && { details }) } });
}

function sendApiKeyInvalid(res: http.ServerResponse): void {
  sendStatus(res, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
    {
      "@type": "type.googleapis.com/google.rpc.ErrorInfo",
      reason: "API_KEY_INVALID",
      domain: "googleapis.com",
      metadata: { service: "generativelanguage.googleapis.com" },
    },
  ]);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const json = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(json) });
  res.end(json);
}

function modelJson(name: string) {
  return {
    name: `models/${name}`,
    version: "001",
    displayName: name,
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: ["generateContent", "countTokens"],
    temperature: 1,
    maxTemperature: 2,
    topP: 0.95,
    topK: 64,
  };
}

function lastUserText(body: GeminiRequest): string {
  const user = (body.contents ?? []).filter((c) => c.role !== "model").at(-1);
  return (user?.parts ?? []).map((p) => p.text ?? "").join(" ");
}

/** Same prompt, same id: a deterministic stand-in for Gemini's responseId. */
function responseIdOf(body: GeminiRequest): string {
  let h = 2166136261;
  for (const ch of JSON.stringify(body.contents ?? []))
    h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return `emu${(h >>> 0).toString(36)}`;
}

function thoughtText(words: number): string {
  return `**Thinking**\n\n${fillerWords(words).join(" ")}\n\n`;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
