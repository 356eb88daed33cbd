import type { GenerationConfig } from "../gemini/wire.ts";

/** One id callers may send, and what it means upstream. */
export interface ModelEntry {
  /** The id callers send. */
  readonly id: string;
  /** The Gemini model it resolves to. */
  readonly upstream: string;
  /** Generation settings the id implies (e.g. a "-thinking" alias asks for thought summaries). */
  readonly generation?: Readonly<GenerationConfig>;
}

const withThoughts = { thinkingConfig: { includeThoughts: true } } as const;

/**
 * The model catalogue: every id geminate accepts. Aliases are the names people use through
 * other routers today; later capabilities (thinking ranges, modalities) hang off these rows.
 */
export const MODELS: readonly ModelEntry[] = [
  { id: "gemini-2.5-pro", upstream: "gemini-2.5-pro" },
  { id: "gemini-2.5-flash", upstream: "gemini-2.5-flash" },
  { id: "gemini-2.5-flash-lite", upstream: "gemini-2.5-flash-lite" },
  { id: "gemini-2.5-flash-thinking", upstream: "gemini-2.5-flash", generation: withThoughts },
  { id: "gemini-2.5-pro-thinking", upstream: "gemini-2.5-pro", generation: withThoughts },
  { id: "gemini-2.5-flash-image", upstream: "gemini-2.5-flash-image" },
  { id: "gemini-2-5-flash-image", upstream: "gemini-2.5-flash-image" },
  { id: "gemini-3-pro-preview", upstream: "gemini-3-pro-preview" },
  { id: "gemini-3-flash-preview", upstream: "gemini-3-flash-preview" },
  { id: "gemini-3-pro-image-preview", upstream: "gemini-3-pro-image-preview" },
  { id: "gemini-2.0-flash", upstream: "gemini-2.0-flash" },
];

const byId = new Map(MODELS.map((m) => [m.id, m]));

/** Looks up a caller's model id; Gemini's own "models/…" spelling is accepted too. */
export function resolveModel(id: string): ModelEntry | undefined {
  return byId.get(id.startsWith("models/") ? id.slice("models/".length) : id);
}

/** The distinct upstream models the catalogue points at. */
export function upstreamModels(): string[] {
  return [...new Set(MODELS.map((m) => m.upstream))];
}
