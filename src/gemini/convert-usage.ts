import { usage } from "../core/frames.ts";
import type { Usage } from "../gen/geminate/v1/chat_pb.js";
import type { GeminiUsage } from "./wire.ts";

/**
 * usageMetadata → OpenAI usage. Tool-use prompt tokens (server-side tool results fed back to the
 * model) are input; thoughts are output, and counted again as reasoning tokens.
 */
export function convertUsage(u: GeminiUsage): Usage {
  const prompt = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0);
  const reasoning = u.thoughtsTokenCount ?? 0;
  const completion = (u.candidatesTokenCount ?? 0) + reasoning;
  return usage(
    prompt,
    completion,
    u.totalTokenCount ?? prompt + completion,
    reasoning,
    u.cachedContentTokenCount ?? 0,
  );
}
