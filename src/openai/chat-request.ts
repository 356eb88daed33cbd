import { create } from "@bufbuild/protobuf";
import { z } from "zod";
import { invalidArgument } from "../core/gateway-error.ts";
import {
  type CompleteRequest,
  CompleteRequestSchema,
  type ContentPart,
  ContentPartSchema,
  Role,
} from "../gen/geminate/v1/chat_pb.js";

// The OpenAI request, validated at the edge: types and shapes here (a 400 naming the JSON path
// of the bad field), value ranges in the core so gRPC callers get the same checks. Unknown
// fields are ignored, as OpenAI-compatible servers do; `null` means "not set", as SDKs send it.

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([z.string(), z.array(textPart)]);
const name = z.string().nullish();

const message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content, name }),
  z.object({ role: z.literal("developer"), content, name }),
  z.object({ role: z.literal("user"), content, name }),
  z.object({ role: z.literal("assistant"), content: content.nullish(), name }),
  z.object({ role: z.literal("tool"), content, tool_call_id: z.string() }),
]);

const number = z.number().nullish();
const integer = z.number().int().nullish();

const chatRequest = z.object({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  temperature: number,
  top_p: number,
  top_k: integer,
  max_tokens: integer,
  max_completion_tokens: integer,
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  n: integer,
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
});

export interface ChatCall {
  readonly request: CompleteRequest;
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

const ROLES = {
  system: Role.SYSTEM,
  developer: Role.SYSTEM,
  user: Role.USER,
  assistant: Role.ASSISTANT,
  tool: Role.TOOL,
} as const satisfies Record<z.infer<typeof message>["role"], Role>;

/** A parsed JSON body → the canonical request, or a 400 naming the bad field. */
export function parseChatRequest(body: unknown): ChatCall {
  const result = chatRequest.safeParse(body);
  if (!result.success) {
    const { path, message } = deepestIssue(result.error.issues[0]!);
    throw invalidArgument(jsonPath(path), message);
  }
  const r = result.data;
  if (r.n != null && r.n !== 1) throw invalidArgument("n", "only n=1 is supported yet");
  const maxTokens = r.max_completion_tokens ?? r.max_tokens;
  const request = create(CompleteRequestSchema, {
    model: r.model,
    messages: r.messages.map((m) => ({
      role: ROLES[m.role],
      content: contentParts(m.content),
      name: ("name" in m && m.name) || "",
    })),
    stop: r.stop == null ? [] : typeof r.stop === "string" ? [r.stop] : r.stop,
  });
  if (r.temperature != null) request.temperature = r.temperature;
  if (r.top_p != null) request.topP = r.top_p;
  if (r.top_k != null) request.topK = r.top_k;
  if (maxTokens != null) request.maxTokens = maxTokens;
  return {
    request,
    stream: r.stream ?? false,
    includeUsage: r.stream_options?.include_usage ?? false,
  };
}

function contentParts(c: z.infer<typeof content> | null | undefined): ContentPart[] {
  if (c == null) return [];
  const texts = typeof c === "string" ? [c] : c.map((p) => p.text);
  return texts.map((text) => create(ContentPartSchema, { part: { case: "text", value: text } }));
}

/**
 * A union's own issue says only "Invalid input"; the branch that got furthest into the value
 * names the real problem (e.g. `content[0].type` of a content-part array).
 */
function deepestIssue(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return issue;
  let best: z.core.$ZodIssue | undefined;
  for (const branch of issue.errors) {
    for (const inner of branch) if (!best || inner.path.length > best.path.length) best = inner;
  }
  if (!best || best.path.length === 0) {
    return { path: issue.path, message: "expected a string or an array of content parts" };
  }
  const deeper = deepestIssue(best);
  return { path: [...issue.path, ...deeper.path], message: deeper.message };
}

/** ["messages", 0, "role"] → "messages[0].role" */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || "body";
}
