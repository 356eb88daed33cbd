/**
 * The upstream keys (`GEMINI_API_KEY=a,b,c`). Keys are handed out round-robin; a key that hit
 * a quota cools down (is picked last) for as long as Gemini asked (RetryInfo) or a default; a
 * key Gemini calls invalid is disabled (picked only when nothing else is left). State is per process: each replica learns on
 * its own.
 */
interface KeyState {
  readonly key: string;
  /** Until when (ms since the epoch) the key ranks last, after a quota answer. */
  coolUntil: number;
  /** Gemini called it invalid. */
  disabled: boolean;
}

export class KeyPool {
  readonly #keys: KeyState[];
  readonly #now: () => number;
  #next = 0;

  constructor(keys: readonly string[], now: () => number = Date.now) {
    if (keys.length === 0) throw new Error("KeyPool needs at least one key");
    this.#keys = keys.map((key) => ({ key, coolUntil: 0, disabled: false }));
    this.#now = now;
  }

  /**
   * The next key not in `exclude`: round-robin over the keys in good standing, else the cooling
   * one that recovers first, else a disabled one. Cooling and disabling only lower a key's
   * rank: Gemini's quotas are per model (a key resting after one model's 429 may serve
   * another), and a pool whose every key was called invalid should still let Gemini say so.
   */
  pick(exclude: ReadonlySet<string> = new Set()): string | undefined {
    const now = this.#now();
    let soonest: KeyState | undefined;
    let disabled: KeyState | undefined;
    for (let i = 0; i < this.#keys.length; i++) {
      const at = (this.#next + i) % this.#keys.length;
      const entry = this.#keys[at]!;
      if (exclude.has(entry.key)) continue;
      if (entry.disabled) disabled ??= entry;
      else if (entry.coolUntil <= now) {
        this.#next = (at + 1) % this.#keys.length;
        return entry.key;
      } else if (!soonest || entry.coolUntil < soonest.coolUntil) soonest = entry;
    }
    return (soonest ?? disabled)?.key;
  }

  /** After a quota answer: unusable for `ms`. */
  coolDown(key: string, ms: number): void {
    const entry = this.#keys.find((k) => k.key === key);
    if (entry) entry.coolUntil = Math.max(entry.coolUntil, this.#now() + ms);
  }

  /** After an invalid-key answer: unusable until restart. */
  disable(key: string): void {
    const entry = this.#keys.find((k) => k.key === key);
    if (entry) entry.disabled = true;
  }

  /** Counts by state, for metrics and logs (never the keys themselves). */
  states(): { active: number; cooling: number; disabled: number } {
    const now = this.#now();
    let active = 0;
    let cooling = 0;
    let disabled = 0;
    for (const k of this.#keys) {
      if (k.disabled) disabled++;
      else if (k.coolUntil > now) cooling++;
      else active++;
    }
    return { active, cooling, disabled };
  }
}
