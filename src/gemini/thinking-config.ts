import {
  THINKING_LEVELS,
  type Thinking,
  type ThinkingLevel,
  type ThinkingSuffix,
} from "../core/models.ts";
import {
  ReasoningEffort,
  type ThinkingConfig as ThinkingOverride,
} from "../gen/geminate/v1/chat_pb.js";
import type { ThinkingConfig } from "./wire.ts";

/** reasoning_effort → a 2.5 thinking budget (before clamping to the model's range). */
const EFFORT_BUDGETS = {
  [ReasoningEffort.UNSPECIFIED]: undefined,
  [ReasoningEffort.NONE]: 0,
  [ReasoningEffort.MINIMAL]: 512,
  [ReasoningEffort.LOW]: 1_024,
  [ReasoningEffort.MEDIUM]: 8_192,
  [ReasoningEffort.HIGH]: 24_576,
} as const satisfies Record<ReasoningEffort, number | undefined>;

/** reasoning_effort → a Gemini 3 level (before fitting to the levels the model accepts). */
const EFFORT_LEVELS = {
  [ReasoningEffort.UNSPECIFIED]: undefined,
  [ReasoningEffort.NONE]: "MINIMAL",
  [ReasoningEffort.MINIMAL]: "MINIMAL",
  [ReasoningEffort.LOW]: "LOW",
  [ReasoningEffort.MEDIUM]: "MEDIUM",
  [ReasoningEffort.HIGH]: "HIGH",
} as const satisfies Record<ReasoningEffort, ThinkingLevel | undefined>;

/**
 * Gemini's thinkingConfig for one request, from (highest precedence first) the caller's explicit
 * google.thinking_config, reasoning_effort, and a "-thinking"/"-nothinking" model suffix, clamped
 * to what the model accepts instead of letting Gemini answer 400.
 */
export function thinkingConfig(
  thinking: Thinking | undefined,
  effort: ReasoningEffort,
  suffix: ThinkingSuffix | undefined,
  override: ThinkingOverride | undefined,
): ThinkingConfig | undefined {
  if (override) {
    const config: ThinkingConfig = {};
    if (override.thinkingBudget !== undefined) config.thinkingBudget = override.thinkingBudget;
    if (override.includeThoughts !== undefined) config.includeThoughts = override.includeThoughts;
    if (override.thinkingLevel) config.thinkingLevel = override.thinkingLevel.toUpperCase();
    return Object.keys(config).length > 0 ? config : undefined;
  }
  if (!thinking) return undefined;
  if (effort !== ReasoningEffort.UNSPECIFIED) {
    const on = effort !== ReasoningEffort.NONE;
    return thinking.kind === "budget"
      ? { thinkingBudget: clampBudget(thinking, EFFORT_BUDGETS[effort]!), includeThoughts: on }
      : { thinkingLevel: fitLevel(thinking.levels, EFFORT_LEVELS[effort]!), includeThoughts: on };
  }
  if (!suffix) return undefined;
  if (!suffix.on) {
    return thinking.kind === "budget"
      ? { thinkingBudget: clampBudget(thinking, 0), includeThoughts: false }
      : { thinkingLevel: thinking.levels[0]!, includeThoughts: false };
  }
  if (suffix.budget === undefined) return { includeThoughts: true };
  return thinking.kind === "budget"
    ? { thinkingBudget: clampBudget(thinking, suffix.budget), includeThoughts: true }
    : {
        thinkingLevel: fitLevel(thinking.levels, suffix.budget >= 8_192 ? "HIGH" : "LOW"),
        includeThoughts: true,
      };
}

function clampBudget(thinking: Extract<Thinking, { kind: "budget" }>, budget: number): number {
  if (budget === -1) return -1;
  if (budget <= 0) return thinking.canDisable ? 0 : thinking.min;
  return Math.min(thinking.max, Math.max(thinking.min, budget));
}

/** The first accepted level at or above the wanted one, else the highest. */
function fitLevel(levels: readonly ThinkingLevel[], wanted: ThinkingLevel): ThinkingLevel {
  const rank = THINKING_LEVELS.indexOf(wanted);
  return levels.find((l) => THINKING_LEVELS.indexOf(l) >= rank) ?? levels.at(-1)!;
}
