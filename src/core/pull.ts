import { Code, ConnectError } from "@connectrpc/connect";
import type { Observable, Observer, Subscription } from "rxjs";
import type { Flow } from "./flow.ts";
import { toConnectError } from "./gateway-error.ts";

/**
 * Frames a stream may hold while its consumer is busy. Past it the upstream read pauses; one
 * upstream read (at most 64 KiB of body) can still overshoot it by the frames it contains.
 */
export const PULL_HIGH_WATER_MARK = 32;

/**
 * The backpressure boundary: turns the push-based pipeline into an async iterator that the
 * edges pull from (SSE writer after each drain, connect-node after each written message). The
 * buffer is bounded by pausing `flow`; `signal` (client gone, deadline, shutdown) unsubscribes,
 * which aborts the upstream request.
 */
export function pull<T>(
  source: Observable<T>,
  flow: Flow,
  signal: AbortSignal,
  highWaterMark = PULL_HIGH_WATER_MARK,
): AsyncIterableIterator<T> {
  return new Pull(source, flow, signal, highWaterMark);
}

// Classes rather than closures: an open stream holds its iterator for its whole life, and the
// closure version cost 11 functions and their context per stream.

class Pull<T> implements AsyncIterableIterator<T> {
  /** Dropped once subscribed: it holds the request, which a long stream need not keep. */
  #source: Observable<T> | undefined;
  readonly #flow: Flow;
  readonly #signal: AbortSignal;
  readonly #highWaterMark: number;
  #queue: T[] = [];
  #head = 0;
  #failure: ConnectError | undefined;
  #done = false;
  #resolve: ((r: IteratorResult<T>) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined;
  #subscription: Subscription | undefined;

  constructor(source: Observable<T>, flow: Flow, signal: AbortSignal, highWaterMark: number) {
    this.#source = source;
    this.#flow = flow;
    this.#signal = signal;
    this.#highWaterMark = highWaterMark;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#source) this.#start(this.#source);
    if (this.#head < this.#queue.length)
      return Promise.resolve({ value: this.#take(), done: false });
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#source = undefined;
    this.#done = true;
    this.#stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** The signal's abort listener (an EventListener object: no function per stream). */
  handleEvent(): void {
    if (this.#done || this.#failure) return;
    this.#failure = abortError(this.#signal.reason);
    this.#queue.length = 0;
    this.#head = 0;
    this.#stop();
    this.#settle();
  }

  push(value: T): void {
    const resolve = this.#resolve;
    if (resolve) {
      this.#resolve = this.#reject = undefined;
      resolve({ value, done: false });
      return;
    }
    this.#queue.push(value);
    if (this.#queue.length - this.#head >= this.#highWaterMark) this.#flow.pause();
  }

  end(): void {
    this.#done = true;
    this.#signal.removeEventListener("abort", this);
    this.#settle();
  }

  fail(err: unknown): void {
    this.#failure = toConnectError(err);
    this.#signal.removeEventListener("abort", this);
    this.#settle();
  }

  #start(source: Observable<T>): void {
    this.#source = undefined;
    if (this.#signal.aborted) {
      this.handleEvent();
      return;
    }
    this.#signal.addEventListener("abort", this, { once: true });
    this.#subscription = source.subscribe(new PullObserver(this));
  }

  #stop(): void {
    this.#signal.removeEventListener("abort", this);
    this.#subscription?.unsubscribe();
  }

  #take(): T {
    const queue = this.#queue;
    const value = queue[this.#head] as T;
    queue[this.#head++] = undefined as T;
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    }
    if (this.#flow.paused && queue.length - this.#head <= this.#highWaterMark >> 1)
      this.#flow.resume();
    return value;
  }

  /** Answers a waiting `next()` if there is now something to answer with. */
  #settle(): void {
    const resolve = this.#resolve;
    const reject = this.#reject;
    if (!resolve || !reject) return;
    if (this.#head < this.#queue.length) resolve({ value: this.#take(), done: false });
    else if (this.#failure) reject(this.#failure);
    else if (this.#done) resolve({ value: undefined, done: true });
    else return;
    this.#resolve = this.#reject = undefined;
  }
}

class PullObserver<T> implements Observer<T> {
  readonly #pull: Pull<T>;

  constructor(pull: Pull<T>) {
    this.#pull = pull;
  }

  next(value: T): void {
    this.#pull.push(value);
  }

  error(err: unknown): void {
    this.#pull.fail(err);
  }

  complete(): void {
    this.#pull.end();
  }
}

/** What an aborted call reports: the signal's reason if it is a ConnectError (deadline). */
function abortError(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, reason);
}
