/**
 * One timer for every open SSE stream instead of one each: a stream holds its ping timer for
 * its whole life, and a Timeout with its closure and context per stream adds up at thousands of
 * streams. Each registered tick runs every half period; the stream decides whether to ping.
 */
export class PingClock {
  readonly #halfPeriodMs: number;
  readonly #ticks = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;

  constructor(periodMs: number) {
    this.#halfPeriodMs = periodMs / 2;
  }

  add(tick: () => void): void {
    this.#ticks.add(tick);
    this.#timer ??= setInterval(() => {
      for (const t of this.#ticks) t();
    }, this.#halfPeriodMs);
  }

  delete(tick: () => void): void {
    this.#ticks.delete(tick);
    if (this.#ticks.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
