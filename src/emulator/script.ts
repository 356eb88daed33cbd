/**
 * What the emulator answers for one request. Defaults come from the emulator's options; a
 * directive in the last user message overrides them per request, e.g.
 * `[emulator words=200 chunk=4 delay=5]` or `[emulator fail=429]`.
 */
export interface Script {
  /** Answer length in words; 0 echoes the prompt ("You said: …"). */
  words: number;
  /** Words per streamed event. */
  chunk: number;
  /** Milliseconds between streamed events (and before the first). */
  delay: number;
  /** Thought-summary words sent before the answer when thoughts are asked for. */
  think: number;
  /** A fault to inject; see FAULTS. */
  fail: Fault | undefined;
}

export const FAULTS = [
  "400",
  "403",
  "404",
  "429",
  "500",
  "503",
  "block", // prompt blocked: promptFeedback, no candidates
  "midstream", // a bare JSON error object after the first event
  "nofinish", // events, then the end of the body without a finishReason
  "reset", // the connection is destroyed after the first event
  "malformed", // an event whose data is not JSON
] as const;
export type Fault = (typeof FAULTS)[number];

const DIRECTIVE = /\[emulator((?:\s+\w+=[\w.-]+)*)\s*\]/;

export function readScript(defaults: Script, lastUserText: string): Script {
  const match = DIRECTIVE.exec(lastUserText);
  if (!match) return defaults;
  const script = { ...defaults };
  for (const pair of match[1]!.trim().split(/\s+/).filter(Boolean)) {
    const [key, value = ""] = pair.split("=");
    if (key === "fail") {
      script.fail = (FAULTS as readonly string[]).includes(value) ? (value as Fault) : undefined;
    } else if (key === "words" || key === "chunk" || key === "delay" || key === "think") {
      const n = Number(value);
      if (Number.isFinite(n) && n >= 0) script[key] = n;
    }
  }
  script.chunk = Math.max(1, script.chunk);
  return script;
}

const VOCABULARY = (
  "the quick brown fox jumps over a lazy dog while gemini streams tokens through geminate " +
  "and every frame arrives in order with usage counted at the end"
).split(" ");

/** Deterministic filler: the same n words for the same n. */
export function fillerWords(n: number): string[] {
  return Array.from({ length: n }, (_, i) => VOCABULARY[i % VOCABULARY.length]!);
}
