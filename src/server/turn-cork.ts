/**
 * Frames that come from one upstream read leave in one socket write, not one each: a response
 * is corked at its first write in a turn of the event loop and uncorked once the turn is done
 * (setImmediate), so nothing waits for a later read. The stream writers measured 15–25 % more
 * frames per CPU-second; a paced stream (one frame per read) is written as before.
 */
export class TurnCork {
  readonly #res: { cork(): void; uncork(): void };
  #pending: NodeJS.Immediate | undefined;

  constructor(res: { cork(): void; uncork(): void }) {
    this.#res = res;
  }

  /** Before each write. */
  hold(): void {
    if (this.#pending) return;
    this.#res.cork();
    this.#pending = setImmediate(this.release);
  }

  /** At the end of the turn, and before the response ends: uncorking an ended response would leave a kept-alive socket corked. */
  readonly release = (): void => {
    if (!this.#pending) return;
    clearImmediate(this.#pending);
    this.#pending = undefined;
    this.#res.uncork();
  };
}
