import { invalidArgument } from "../core/gateway-error.ts";
import type { ResolvedModel } from "../core/models.ts";
import { GENERATED_PREFIX } from "../core/tool-call-id.ts";
import {
  type CompleteRequest,
  type Media,
  type Message,
  ResponseFormat_Type,
  Role,
  ToolChoice_Mode,
} from "../gen/geminate/v1/chat_pb.js";
import { cleanSchema } from "./clean-schema.ts";
import { thinkingConfig } from "./thinking-config.ts";
import type { Content, GenerateContentRequest, GenerationConfig, Part } from "./wire.ts";

/** Turns a media input into a Gemini part (fetching, checking); see MediaResolver. */
export type ResolveMedia = (media: Media, param: string) => Promise<Part>;

/**
 * Gemini 3 refuses a function-call turn whose signature is missing; a client that lost it gets
 * this documented bypass value instead of a 400 (reference/openai-gemini-mapping.md (e)).
 */
const MISSING_SIGNATURE = "skip_thought_signature_validator";

/**
 * CompleteRequest → Gemini's GenerateContentRequest. System messages become systemInstruction,
 * assistant turns "model" turns (tool calls as functionCall parts with their signatures), tool
 * results functionResponse parts named through the call id, and consecutive turns of one role
 * are merged. Ranges are checked here so gRPC and OpenAI callers get the same 400.
 */
export async function buildRequest(
  request: CompleteRequest,
  model: ResolvedModel,
  resolveMedia: ResolveMedia,
): Promise<GenerateContentRequest> {
  if (request.messages.length === 0)
    throw invalidArgument("messages", "at least one message is required");
  const system: Part[] = [];
  const contents: Content[] = [];
  /** Tool call id → function name, from the assistant turns so far. */
  const callNames = new Map<string, string>();
  const signatureRequired = model.capabilities.thinking?.kind === "level";

  for (const [i, message] of request.messages.entries()) {
    const param = `messages[${i}]`;
    let role: "user" | "model";
    let parts: Part[];
    switch (message.role) {
      case Role.SYSTEM:
        system.push(...(await contentParts(message, param, resolveMedia)));
        continue;
      case Role.USER:
        role = "user";
        parts = await contentParts(message, param, resolveMedia);
        break;
      case Role.ASSISTANT:
        role = "model";
        parts = assistantParts(message, param, callNames, signatureRequired);
        break;
      case Role.TOOL:
        role = "user";
        parts = [toolResultPart(message, param, callNames)];
        break;
      default:
        throw invalidArgument(`${param}.role`, "a role is required");
    }
    if (parts.length === 0) continue;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  }
  if (contents.length === 0) {
    throw invalidArgument(
      "messages",
      "at least one user or assistant message with content is required",
    );
  }

  const body: GenerateContentRequest = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  const generationConfig = buildGenerationConfig(request, model);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  addTools(body, request, model);
  const google = request.google;
  if (google?.safetySettings.length) {
    body.safetySettings = google.safetySettings.map((s) => ({
      category: s.category,
      threshold: s.threshold,
    }));
  }
  if (google?.cachedContent) body.cachedContent = google.cachedContent;
  return body;
}

async function contentParts(
  message: Message,
  param: string,
  resolveMedia: ResolveMedia,
): Promise<Part[]> {
  const parts: Part[] = [];
  for (const [j, part] of message.content.entries()) {
    if (part.part.case === "text") {
      // Empty text parts are dropped: Gemini rejects a part with no data.
      if (part.part.value !== "") parts.push({ text: part.part.value });
    } else if (part.part.case !== undefined) {
      if (message.role === Role.SYSTEM)
        throw invalidArgument(`${param}.content[${j}]`, "system messages take text only");
      parts.push(await resolveMedia(part.part.value, `${param}.content[${j}]`));
    }
  }
  return parts;
}

function assistantParts(
  message: Message,
  param: string,
  callNames: Map<string, string>,
  signatureRequired: boolean,
): Part[] {
  const parts: Part[] = [];
  const text = message.content.map((p) => (p.part.case === "text" ? p.part.value : "")).join("");
  if (text)
    parts.push({
      text,
      ...(message.thoughtSignature && { thoughtSignature: message.thoughtSignature }),
    });
  for (const [k, call] of message.toolCalls.entries()) {
    let args: unknown = {};
    if (call.arguments.trim() !== "") {
      try {
        args = JSON.parse(call.arguments);
      } catch {
        throw invalidArgument(`${param}.tool_calls[${k}].function.arguments`, "is not valid JSON");
      }
    }
    if (!call.name) throw invalidArgument(`${param}.tool_calls[${k}].function.name`, "is required");
    callNames.set(call.id, call.name);
    const part: Part = {
      functionCall: { ...(isGeminiId(call.id) && { id: call.id }), name: call.name, args },
    };
    const signature =
      call.thoughtSignature || (k === 0 && signatureRequired ? MISSING_SIGNATURE : "");
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  }
  return parts;
}

function toolResultPart(message: Message, param: string, callNames: Map<string, string>): Part {
  const name = callNames.get(message.toolCallId);
  if (!name) {
    throw invalidArgument(
      `${param}.tool_call_id`,
      "does not match a tool call of an earlier assistant message",
    );
  }
  const text = message.content.map((p) => (p.part.case === "text" ? p.part.value : "")).join("");
  return {
    functionResponse: {
      ...(isGeminiId(message.toolCallId) && { id: message.toolCallId }),
      name,
      response: toolResponse(text),
    },
  };
}

/** Gemini wants an object: JSON objects go as they are, other JSON as {result}, text as {content}. */
function toolResponse(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value;
    return { result: value };
  } catch {
    return { content: text };
  }
}

function isGeminiId(id: string): boolean {
  return id !== "" && !id.startsWith(GENERATED_PREFIX);
}

function buildGenerationConfig(request: CompleteRequest, model: ResolvedModel): GenerationConfig {
  const caps = model.capabilities;
  const config: GenerationConfig = {};
  if (request.temperature !== undefined)
    config.temperature = inRange("temperature", request.temperature, 0, 2);
  if (request.topP !== undefined) config.topP = inRange("top_p", request.topP, 0, 1);
  if (request.topK !== undefined) config.topK = inRange("top_k", request.topK, 1, 1_000_000);
  if (request.n !== undefined && request.n !== 1)
    config.candidateCount = inRange("n", request.n, 1, 8);
  if (request.maxTokens !== undefined)
    config.maxOutputTokens = inRange("max_tokens", request.maxTokens, 1, 2 ** 31 - 1);
  if (request.stop.length > 5)
    throw invalidArgument("stop", "at most 5 stop sequences are allowed");
  if (request.stop.length > 0) config.stopSequences = [...request.stop];
  if (request.seed !== undefined) config.seed = request.seed;
  if (request.presencePenalty !== undefined) {
    config.presencePenalty = inRange("presence_penalty", request.presencePenalty, -2, 2);
  }
  if (request.frequencyPenalty !== undefined) {
    config.frequencyPenalty = inRange("frequency_penalty", request.frequencyPenalty, -2, 2);
  }
  if (request.logprobs) {
    config.responseLogprobs = true;
    if (request.topLogprobs !== undefined)
      config.logprobs = inRange("top_logprobs", request.topLogprobs, 0, 20);
  } else if (request.topLogprobs !== undefined) {
    throw invalidArgument("top_logprobs", "requires logprobs: true");
  }
  const format = request.responseFormat;
  if (format?.type === ResponseFormat_Type.JSON_OBJECT)
    config.responseMimeType = "application/json";
  if (format?.type === ResponseFormat_Type.JSON_SCHEMA) {
    const schema = parseJson(format.schemaJson, "response_format.json_schema.schema");
    config.responseMimeType = "application/json";
    if (caps.jsonSchema) config.responseJsonSchema = schema;
    else config.responseSchema = cleanSchema(schema);
  }
  if (caps.imageOutput) config.responseModalities = ["TEXT", "IMAGE"];
  const thinking = thinkingConfig(
    caps.thinking,
    request.reasoningEffort,
    model.suffix,
    request.google?.thinkingConfig,
  );
  if (thinking) config.thinkingConfig = thinking;
  return config;
}

function addTools(
  body: GenerateContentRequest,
  request: CompleteRequest,
  model: ResolvedModel,
): void {
  const names = new Set<string>();
  if (request.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: request.tools.map((tool, i) => {
          if (!tool.name) throw invalidArgument(`tools[${i}].function.name`, "is required");
          names.add(tool.name);
          const parameters = tool.parametersJson
            ? parseJson(tool.parametersJson, `tools[${i}].function.parameters`)
            : undefined;
          return {
            name: tool.name,
            ...(tool.description && { description: tool.description }),
            ...(parameters !== undefined &&
              (model.capabilities.jsonSchema
                ? { parametersJsonSchema: parameters }
                : { parameters: cleanSchema(parameters) })),
          };
        }),
      },
    ];
  }
  const choice = request.toolChoice;
  if (!choice) return;
  if (choice.functionName) {
    if (!names.has(choice.functionName)) {
      throw invalidArgument(
        "tool_choice",
        `names '${choice.functionName}', which is not among the tools`,
      );
    }
    body.toolConfig = {
      functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice.functionName] },
    };
    return;
  }
  const mode = {
    [ToolChoice_Mode.AUTO]: "AUTO",
    [ToolChoice_Mode.NONE]: "NONE",
    [ToolChoice_Mode.REQUIRED]: "ANY",
  } as const;
  if (choice.mode !== ToolChoice_Mode.UNSPECIFIED) {
    if (choice.mode === ToolChoice_Mode.REQUIRED && names.size === 0) {
      throw invalidArgument("tool_choice", "is 'required' but no tools are given");
    }
    body.toolConfig = { functionCallingConfig: { mode: mode[choice.mode] } };
  }
}

function parseJson(text: string, param: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidArgument(param, "is not valid JSON");
  }
}

function inRange(param: string, value: number, min: number, max: number): number {
  if (!(value >= min && value <= max))
    throw invalidArgument(param, `must be between ${min} and ${max}, got ${value}`);
  return value;
}
