/**
 * The backpressure valve between a consumer and the upstream body reader. The consumer pauses
 * it when its buffer is full and resumes it when drained; the reader awaits `ready()` before
 * each read, so a stalled client stalls the upstream read instead of growing memory.
 */
export class Flow {
  #paused = false;
  #waiters: Array<() => void> = [];

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when the flow is open or the signal aborts; sync fast path when open. */
  ready(signal: AbortSignal): Promise<void> | undefined {
    if (!this.#paused || signal.aborted) return undefined;
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener("abort", wake);
        resolve();
      };
      this.#waiters.push(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }
}
