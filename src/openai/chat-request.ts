import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as z from "zod";
import { invalidArgument } from "../core/gateway-error.ts";
import { decodeToolCallId } from "../core/tool-call-id.ts";
import {
  type CompleteRequest,
  CompleteRequestSchema,
  type ContentPart,
  ContentPartSchema,
  Detail,
  GoogleOptionsSchema,
  MediaSchema,
  type MessageSchema,
  ReasoningEffort,
  ResponseFormat_Type,
  ResponseFormatSchema,
  Role,
  ToolChoice_Mode,
  ToolChoiceSchema,
} from "../gen/geminate/v1/chat_pb.js";

// The OpenAI request, validated at the edge: types and shapes here (a 400 naming the JSON path
// of the bad field), value ranges in the core so gRPC callers get the same checks. Unknown
// fields are ignored, as OpenAI-compatible servers do; `null` means "not set", as SDKs send it.

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const imagePart = z.object({
  type: z.literal("image_url"),
  image_url: z.union([
    z.string(),
    z.object({ url: z.string(), detail: z.enum(["auto", "low", "high"]).nullish() }),
  ]),
});
const audioPart = z.object({
  type: z.literal("input_audio"),
  input_audio: z.object({ data: z.string(), format: z.string().regex(/^[\w.+-]+$/) }),
});
const filePart = z.object({
  type: z.literal("file"),
  file: z.object({
    file_data: z.string().nullish(),
    file_id: z.string().nullish(),
    filename: z.string().nullish(),
    format: z.string().nullish(),
  }),
});
const part = z.discriminatedUnion("type", [textPart, imagePart, audioPart, filePart]);
// Caps keep one request from costing unbounded work: far above what real conversations use.
const textContent = z.union([z.string(), z.array(textPart).max(512)]);
const userContent = z.union([z.string(), z.array(part).max(512)]);
const name = z.string().nullish();
/** Where Gemini's thought signature travels in Google's own OpenAI-compatible format. */
const extraContent = z
  .object({ google: z.object({ thought_signature: z.string().nullish() }).nullish() })
  .nullish();

const toolCall = z.object({
  id: z.string(),
  type: z.literal("function").nullish(),
  function: z.object({ name: z.string(), arguments: z.string() }),
  extra_content: extraContent,
  provider_specific_fields: z.object({ thought_signature: z.string().nullish() }).nullish(),
});

const message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content: textContent, name }),
  z.object({ role: z.literal("developer"), content: textContent, name }),
  z.object({ role: z.literal("user"), content: userContent, name }),
  z.object({
    role: z.literal("assistant"),
    content: textContent.nullish(),
    name,
    tool_calls: z.array(toolCall).max(512).nullish(),
    extra_content: extraContent,
  }),
  z.object({ role: z.literal("tool"), content: textContent, tool_call_id: z.string() }),
]);

const number = z.number().nullish();
const integer = z.number().int().nullish();

const google = z.object({
  thinking_config: z
    .object({
      thinking_budget: z.number().int().nullish(),
      include_thoughts: z.boolean().nullish(),
      thinking_level: z.string().nullish(),
    })
    .nullish(),
  safety_settings: z.array(z.object({ category: z.string(), threshold: z.string() })).nullish(),
  cached_content: z.string().nullish(),
});

const chatRequest = z.object({
  model: z.string().min(1),
  messages: z.array(message).min(1).max(4096),
  temperature: number,
  top_p: number,
  top_k: integer,
  max_tokens: integer,
  max_completion_tokens: integer,
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  n: integer,
  seed: integer,
  presence_penalty: number,
  frequency_penalty: number,
  logprobs: z.boolean().nullish(),
  top_logprobs: integer,
  reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high", "xhigh"]).nullish(),
  tools: z
    .array(
      z.object({
        type: z.literal("function"),
        function: z.object({
          name: z.string().min(1),
          description: z.string().nullish(),
          parameters: z.record(z.string(), z.unknown()).nullish(),
          strict: z.boolean().nullish(),
        }),
      }),
    )
    .max(512)
    .nullish(),
  tool_choice: z
    .union([
      z.enum(["none", "auto", "required"]),
      z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
    ])
    .nullish(),
  response_format: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("text") }),
      z.object({ type: z.literal("json_object") }),
      z.object({
        type: z.literal("json_schema"),
        json_schema: z.object({
          name: z.string(),
          schema: z.record(z.string(), z.unknown()).nullish(),
          strict: z.boolean().nullish(),
        }),
      }),
    ])
    .nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  // The openai SDKs merge extra_body into the body, so `google` arrives at the top; some
  // clients send the literal `extra_body` object instead.
  google: google.nullish(),
  extra_body: z.object({ google: google.nullish() }).nullish(),
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
  const maxTokens = r.max_completion_tokens ?? r.max_tokens;
  const g = r.google ?? r.extra_body?.google;
  const request = create(CompleteRequestSchema, {
    model: r.model,
    messages: r.messages.map(toMessage),
    stop: r.stop == null ? [] : typeof r.stop === "string" ? [r.stop] : r.stop,
    logprobs: r.logprobs ?? false,
    reasoningEffort: r.reasoning_effort ? EFFORTS[r.reasoning_effort] : ReasoningEffort.UNSPECIFIED,
    tools: (r.tools ?? []).map((t) => ({
      name: t.function.name,
      description: t.function.description ?? "",
      parametersJson: t.function.parameters ? JSON.stringify(t.function.parameters) : "",
    })),
  });
  if (r.temperature != null) request.temperature = r.temperature;
  if (r.top_p != null) request.topP = r.top_p;
  if (r.top_k != null) request.topK = r.top_k;
  if (r.n != null) request.n = r.n;
  if (r.seed != null) request.seed = r.seed;
  if (r.presence_penalty != null) request.presencePenalty = r.presence_penalty;
  if (r.frequency_penalty != null) request.frequencyPenalty = r.frequency_penalty;
  if (r.top_logprobs != null) request.topLogprobs = r.top_logprobs;
  if (maxTokens != null) request.maxTokens = maxTokens;
  if (r.tool_choice != null) {
    request.toolChoice =
      typeof r.tool_choice === "string"
        ? create(ToolChoiceSchema, { mode: TOOL_CHOICES[r.tool_choice] })
        : create(ToolChoiceSchema, {
            mode: ToolChoice_Mode.REQUIRED,
            functionName: r.tool_choice.function.name,
          });
  }
  if (r.response_format != null) {
    const f = r.response_format;
    request.responseFormat = create(ResponseFormatSchema, {
      type: FORMATS[f.type],
      ...(f.type === "json_schema" && {
        name: f.json_schema.name,
        schemaJson: JSON.stringify(f.json_schema.schema ?? { type: "object" }),
      }),
    });
  }
  if (g) {
    const t = g.thinking_config;
    request.google = create(GoogleOptionsSchema, {
      safetySettings: g.safety_settings ?? [],
      cachedContent: g.cached_content ?? "",
      ...(t && {
        thinkingConfig: {
          ...(t.thinking_budget != null && { thinkingBudget: t.thinking_budget }),
          ...(t.include_thoughts != null && { includeThoughts: t.include_thoughts }),
          thinkingLevel: t.thinking_level ?? "",
        },
      }),
    });
  }
  return {
    request,
    stream: r.stream ?? false,
    includeUsage: r.stream_options?.include_usage ?? false,
  };
}

const EFFORTS = {
  none: ReasoningEffort.NONE,
  minimal: ReasoningEffort.MINIMAL,
  low: ReasoningEffort.LOW,
  medium: ReasoningEffort.MEDIUM,
  high: ReasoningEffort.HIGH,
  xhigh: ReasoningEffort.HIGH,
} as const;

const TOOL_CHOICES = {
  none: ToolChoice_Mode.NONE,
  auto: ToolChoice_Mode.AUTO,
  required: ToolChoice_Mode.REQUIRED,
} as const;

const FORMATS = {
  text: ResponseFormat_Type.TEXT,
  json_object: ResponseFormat_Type.JSON_OBJECT,
  json_schema: ResponseFormat_Type.JSON_SCHEMA,
} as const;

const DETAILS = { auto: Detail.AUTO, low: Detail.LOW, high: Detail.HIGH } as const;

type OpenAIMessage = z.infer<typeof message>;

function toMessage(m: OpenAIMessage): MessageInit {
  const base = { role: ROLES[m.role], content: contentParts(m.content) };
  switch (m.role) {
    case "assistant":
      return {
        ...base,
        name: m.name ?? "",
        thoughtSignature: m.extra_content?.google?.thought_signature ?? "",
        toolCalls: (m.tool_calls ?? []).map((call, index) => {
          const decoded = decodeToolCallId(call.id);
          return {
            id: decoded.id,
            name: call.function.name,
            arguments: call.function.arguments,
            index,
            thoughtSignature:
              call.extra_content?.google?.thought_signature ||
              call.provider_specific_fields?.thought_signature ||
              decoded.signature,
          };
        }),
      };
    case "tool":
      return { ...base, toolCallId: decodeToolCallId(m.tool_call_id).id };
    default:
      return { ...base, name: m.name ?? "" };
  }
}

type MessageInit = MessageInitShape<typeof MessageSchema>;

function contentParts(c: z.infer<typeof userContent> | null | undefined): ContentPart[] {
  if (c == null) return [];
  if (typeof c === "string")
    return [create(ContentPartSchema, { part: { case: "text", value: c } })];
  return c.map((p) => create(ContentPartSchema, { part: partOf(p) }));
}

function partOf(p: z.infer<typeof part>): ContentPart["part"] {
  switch (p.type) {
    case "text":
      return { case: "text", value: p.text };
    case "image_url": {
      const image = typeof p.image_url === "string" ? { url: p.image_url } : p.image_url;
      const detail = "detail" in image && image.detail ? DETAILS[image.detail] : Detail.UNSPECIFIED;
      return {
        case: "image",
        value: create(MediaSchema, { source: { case: "url", value: image.url }, detail }),
      };
    }
    case "input_audio": {
      const url = `data:audio/${p.input_audio.format};base64,${p.input_audio.data}`;
      return { case: "audio", value: create(MediaSchema, { source: { case: "url", value: url } }) };
    }
    case "file": {
      const f = p.file;
      const filename = f.filename ?? "";
      // file_data is a data URL; bare base64 is taken as a PDF (OpenAI's one file type).
      const url = f.file_data
        ? f.file_data.startsWith("data:")
          ? f.file_data
          : `data:${f.format ?? "application/pdf"};base64,${f.file_data}`
        : geminiFileUri(f.file_id ?? "");
      return {
        case: "file",
        value: create(MediaSchema, {
          source: { case: "url", value: url },
          filename,
          mimeType: f.format ?? "",
        }),
      };
    }
  }
}

/** A Gemini Files API name ("files/abc") as the URI Gemini expects; anything else as given. */
function geminiFileUri(id: string): string {
  return /^files\/[\w-]+$/.test(id) ? `https://generativelanguage.googleapis.com/v1beta/${id}` : id;
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
