import { FinishReason } from "../gen/geminate/v1/chat_pb.js";

/** Gemini's finishReason values (js-genai types.ts, 2026). */
export type GeminiFinishReason =
  | "FINISH_REASON_UNSPECIFIED"
  | "STOP"
  | "MAX_TOKENS"
  | "SAFETY"
  | "RECITATION"
  | "LANGUAGE"
  | "OTHER"
  | "BLOCKLIST"
  | "PROHIBITED_CONTENT"
  | "SPII"
  | "MALFORMED_FUNCTION_CALL"
  | "IMAGE_SAFETY"
  | "UNEXPECTED_TOOL_CALL"
  | "TOO_MANY_TOOL_CALLS"
  | "IMAGE_PROHIBITED_CONTENT"
  | "NO_IMAGE"
  | "IMAGE_RECITATION"
  | "IMAGE_OTHER"
  | "MISSING_THOUGHT_SIGNATURE";

/**
 * Every Gemini ending mapped to OpenAI's. Anything that is neither a natural stop nor the token
 * limit is content_filter: the answer was cut for a reason the caller must not retry blindly
 * (mapping MALFORMED_FUNCTION_CALL or OTHER to "stop" causes retry loops in agents). The raw
 * reason travels beside it as native_finish_reason.
 */
const FINISH_REASONS = {
  FINISH_REASON_UNSPECIFIED: FinishReason.STOP,
  STOP: FinishReason.STOP,
  MAX_TOKENS: FinishReason.LENGTH,
  SAFETY: FinishReason.CONTENT_FILTER,
  RECITATION: FinishReason.CONTENT_FILTER,
  LANGUAGE: FinishReason.CONTENT_FILTER,
  OTHER: FinishReason.CONTENT_FILTER,
  BLOCKLIST: FinishReason.CONTENT_FILTER,
  PROHIBITED_CONTENT: FinishReason.CONTENT_FILTER,
  SPII: FinishReason.CONTENT_FILTER,
  MALFORMED_FUNCTION_CALL: FinishReason.CONTENT_FILTER,
  IMAGE_SAFETY: FinishReason.CONTENT_FILTER,
  UNEXPECTED_TOOL_CALL: FinishReason.CONTENT_FILTER,
  TOO_MANY_TOOL_CALLS: FinishReason.CONTENT_FILTER,
  IMAGE_PROHIBITED_CONTENT: FinishReason.CONTENT_FILTER,
  NO_IMAGE: FinishReason.CONTENT_FILTER,
  IMAGE_RECITATION: FinishReason.CONTENT_FILTER,
  IMAGE_OTHER: FinishReason.CONTENT_FILTER,
  MISSING_THOUGHT_SIGNATURE: FinishReason.CONTENT_FILTER,
} as const satisfies Record<GeminiFinishReason, FinishReason>;

/** A value newer than this table ends the choice as "stop"; the raw value is still passed on. */
export function mapFinishReason(reason: string): FinishReason {
  return Object.hasOwn(FINISH_REASONS, reason)
    ? FINISH_REASONS[reason as GeminiFinishReason]
    : FinishReason.STOP;
}
