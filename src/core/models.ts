/** Gemini 3 thinking levels, lowest first. */
export const THINKING_LEVELS = ["MINIMAL", "LOW", "MEDIUM", "HIGH"] as const;
export type ThinkingLevel = (typeof THINKING_LEVELS)[number];

/** How a model's thinking is controlled. */
export type Thinking =
  /** Gemini 2.5: a token budget in [min, max]; 0 turns thinking off where `canDisable`. */
  | {
      readonly kind: "budget";
      readonly min: number;
      readonly max: number;
      readonly canDisable: boolean;
    }
  /** Gemini 3: named levels, the ones the model accepts. */
  | { readonly kind: "level"; readonly levels: readonly ThinkingLevel[] };

/** What an upstream model can do; requests are shaped (and clamped) by this. */
export interface Capabilities {
  readonly thinking?: Thinking;
  /** Answers with images (responseModalities TEXT+IMAGE). */
  readonly imageOutput?: boolean;
  /** Accepts plain JSON Schema (parametersJsonSchema, responseJsonSchema). */
  readonly jsonSchema?: boolean;
  /** Accepts per-part mediaResolution (image detail). */
  readonly mediaResolution?: boolean;
}

const flashBudget: Thinking = { kind: "budget", min: 1, max: 24_576, canDisable: true };

/** Every upstream model geminate knows, with what it can do. */
const UPSTREAM_MODELS = {
  "gemini-2.5-pro": {
    thinking: { kind: "budget", min: 128, max: 32_768, canDisable: false },
    jsonSchema: true,
  },
  "gemini-2.5-flash": { thinking: flashBudget, jsonSchema: true },
  "gemini-2.5-flash-lite": {
    thinking: { kind: "budget", min: 512, max: 24_576, canDisable: true },
    jsonSchema: true,
  },
  "gemini-2.5-flash-image": { imageOutput: true, jsonSchema: true },
  "gemini-3-pro-preview": {
    thinking: { kind: "level", levels: ["LOW", "HIGH"] },
    jsonSchema: true,
    mediaResolution: true,
  },
  "gemini-3-flash-preview": {
    thinking: { kind: "level", levels: THINKING_LEVELS },
    jsonSchema: true,
    mediaResolution: true,
  },
  "gemini-3-pro-image-preview": { imageOutput: true, jsonSchema: true, mediaResolution: true },
  "gemini-2.0-flash": {},
} as const satisfies Record<string, Capabilities>;

type UpstreamModel = keyof typeof UPSTREAM_MODELS;

/** Names people use for upstream models through other routers. */
const ALIASES: Record<string, UpstreamModel> = {
  "gemini-2-5-flash-image": "gemini-2.5-flash-image",
  "gemini-2-5-pro": "gemini-2.5-pro",
  "gemini-2-5-flash": "gemini-2.5-flash",
};

/** Ids listed by /v1/models besides the upstream names: aliases and thinking variants. */
const LISTED_VARIANTS = [
  "gemini-2.5-flash-thinking",
  "gemini-2.5-pro-thinking",
  "gemini-2.5-flash-nothinking",
  "gemini-3-pro-preview-thinking",
  "gemini-2-5-flash-image",
];

/** Thinking asked for through the model id ("-thinking", "-thinking-<budget>", "-nothinking"). */
export type ThinkingSuffix =
  | { readonly on: true; readonly budget?: number }
  | { readonly on: false };

/** A caller's model id, resolved. */
export interface ResolvedModel {
  /** The id as the caller sent it (echoed in answers). */
  readonly id: string;
  /** The Gemini model to call. */
  readonly upstream: string;
  readonly capabilities: Capabilities;
  readonly suffix?: ThinkingSuffix;
}

const SUFFIX = /^(.+?)-(?:(nothinking)|thinking(?:-(\d+))?)$/;

/**
 * The model catalogue: the one table of models, aliases and capabilities, used by requests and
 * by /v1/models. Models the upstream lists beyond the table are accepted too (capabilities
 * inferred from the name), once `learn` has been told about them.
 */
export class ModelCatalogue {
  /** Upstream models learnt from the upstream's own list. */
  readonly #learnt = new Set<string>();

  /** Adds the upstream's models (bare ids, "models/" stripped). */
  learn(upstreamIds: Iterable<string>): void {
    for (const id of upstreamIds) this.#learnt.add(stripPrefix(id));
  }

  /** Every id callers may send, in a stable order. */
  ids(): string[] {
    const own = [...Object.keys(UPSTREAM_MODELS), ...LISTED_VARIANTS];
    const extra = [...this.#learnt].filter((id) => !own.includes(id)).sort();
    return [...own, ...extra];
  }

  resolve(requested: string): ResolvedModel | undefined {
    const id = stripPrefix(requested);
    const base = this.#base(id);
    if (base) return { id: requested, ...base };
    const m = SUFFIX.exec(id);
    if (!m) return undefined;
    const thinkingBase = this.#base(m[1]!);
    if (!thinkingBase?.capabilities.thinking) return undefined;
    const suffix: ThinkingSuffix = m[2]
      ? { on: false }
      : { on: true, ...(m[3] !== undefined && { budget: Number(m[3]) }) };
    return { id: requested, ...thinkingBase, suffix };
  }

  #base(id: string): { upstream: string; capabilities: Capabilities } | undefined {
    const upstream = ALIASES[id] ?? id;
    if (Object.hasOwn(UPSTREAM_MODELS, upstream)) {
      return { upstream, capabilities: UPSTREAM_MODELS[upstream as UpstreamModel] };
    }
    if (this.#learnt.has(upstream)) return { upstream, capabilities: inferCapabilities(upstream) };
    return undefined;
  }
}

/** The upstream models the table knows (what the emulator serves). */
export function knownUpstreamModels(): string[] {
  return Object.keys(UPSTREAM_MODELS);
}

/** For models only the upstream's list names: what their family can do. */
function inferCapabilities(id: string): Capabilities {
  if (id.includes("image")) return { imageOutput: true, jsonSchema: true };
  if (id.startsWith("gemini-3")) {
    return {
      thinking: { kind: "level", levels: ["LOW", "HIGH"] },
      jsonSchema: true,
      mediaResolution: true,
    };
  }
  if (id.startsWith("gemini-2.5-pro")) return UPSTREAM_MODELS["gemini-2.5-pro"];
  if (id.startsWith("gemini-2.5")) return { thinking: flashBudget, jsonSchema: true };
  return {};
}

function stripPrefix(id: string): string {
  return id.startsWith("models/") ? id.slice("models/".length) : id;
}
