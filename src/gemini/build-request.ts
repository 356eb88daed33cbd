import { Code } from "@connectrpc/connect";
import { GatewayError, invalidArgument } from "../core/gateway-error.ts";
import type { ModelEntry } from "../core/models.ts";
import { type CompleteRequest, type Message, Role } from "../gen/geminate/v1/chat_pb.js";
import type { Content, GenerateContentRequest, GenerationConfig, Part } from "./wire.ts";

/**
 * CompleteRequest → Gemini's GenerateContentRequest. System messages become
 * systemInstruction, assistant turns become "model" turns, and consecutive turns of one role
 * are merged (Gemini expects alternation). Parameter ranges are checked here, so gRPC and
 * OpenAI callers get the same 400 naming the same field.
 */
export function buildRequest(request: CompleteRequest, model: ModelEntry): GenerateContentRequest {
  const system: Part[] = [];
  const contents: Content[] = [];
  request.messages.forEach((message, i) => {
    const parts = convertParts(message);
    if (message.role === Role.SYSTEM) {
      system.push(...parts);
      return;
    }
    const role = turnRole(message.role, i);
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  });
  if (request.messages.length === 0) {
    throw invalidArgument("messages", "at least one message is required");
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
  if (generationConfig) body.generationConfig = generationConfig;
  return body;
}

function turnRole(role: Role, index: number): "user" | "model" {
  switch (role) {
    case Role.USER:
      return "user";
    case Role.ASSISTANT:
      return "model";
    case Role.TOOL:
      throw new GatewayError(
        `messages[${index}].role: tool messages are not supported yet`,
        Code.InvalidArgument,
        { param: `messages[${index}].role` },
      );
    default:
      throw invalidArgument(`messages[${index}].role`, "a role is required");
  }
}

function convertParts(message: Message): Part[] {
  const parts: Part[] = [];
  for (const part of message.content) {
    // Empty text parts are dropped: Gemini rejects a part with no data.
    if (part.part.case === "text" && part.part.value !== "") parts.push({ text: part.part.value });
  }
  return parts;
}

function buildGenerationConfig(
  request: CompleteRequest,
  model: ModelEntry,
): GenerationConfig | undefined {
  const config: GenerationConfig = { ...model.generation };
  if (request.temperature !== undefined) {
    config.temperature = inRange("temperature", request.temperature, 0, 2);
  }
  if (request.topP !== undefined) config.topP = inRange("top_p", request.topP, 0, 1);
  if (request.topK !== undefined) config.topK = inRange("top_k", request.topK, 1, 1_000_000);
  if (request.maxTokens !== undefined) {
    config.maxOutputTokens = inRange("max_tokens", request.maxTokens, 1, 2 ** 31 - 1);
  }
  if (request.stop.length > 5)
    throw invalidArgument("stop", "at most 5 stop sequences are allowed");
  if (request.stop.length > 0) config.stopSequences = [...request.stop];
  return Object.keys(config).length > 0 ? config : undefined;
}

function inRange(param: string, value: number, min: number, max: number): number {
  if (!(value >= min && value <= max)) {
    throw invalidArgument(param, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}
