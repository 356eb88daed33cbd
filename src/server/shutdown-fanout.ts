/**
 * The calls to end when the shutdown grace period is over, behind one listener on the shutdown
 * signal. A listener per call made opening calls quadratic: EventTarget compares each new
 * listener with every one already there (10,000 listeners took 360 ms to add here, 20,000 took
 * 1.5 s).
 */
export class ShutdownFanout {
  readonly signal: AbortSignal;
  readonly #ends = new Set<() => void>();

  constructor(signal: AbortSignal) {
    this.signal = signal;
    signal.addEventListener(
      "abort",
      () => {
        for (const end of this.#ends) end();
        this.#ends.clear();
      },
      { once: true },
    );
  }

  /** Runs `end` at shutdown, at once when it is already over, unless deleted before. */
  add(end: () => void): void {
    if (this.signal.aborted) end();
    else this.#ends.add(end);
  }

  delete(end: () => void): void {
    this.#ends.delete(end);
  }
}
