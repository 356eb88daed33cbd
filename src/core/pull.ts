import { Code, ConnectError } from "@connectrpc/connect";
import type { Observable, Subscription } from "rxjs";
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
  const queue: T[] = [];
  let head = 0;
  let failure: ConnectError | undefined;
  let done = false;
  let waiting:
    | { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }
    | undefined;
  let subscription: Subscription | undefined;

  const settle = () => {
    if (!waiting) return;
    const w = waiting;
    if (head < queue.length) {
      waiting = undefined;
      w.resolve({ value: take(), done: false });
    } else if (failure) {
      waiting = undefined;
      w.reject(failure);
    } else if (done) {
      waiting = undefined;
      w.resolve({ value: undefined, done: true });
    }
  };
  const take = (): T => {
    const value = queue[head] as T;
    queue[head++] = undefined as T;
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
    if (flow.paused && queue.length - head <= highWaterMark >> 1) flow.resume();
    return value;
  };
  const stop = () => {
    signal.removeEventListener("abort", onAbort);
    subscription?.unsubscribe();
  };
  const onAbort = () => {
    if (done || failure) return;
    failure = abortError(signal.reason);
    queue.length = 0;
    head = 0;
    stop();
    settle();
  };
  const start = () => {
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    subscription = source.subscribe({
      next(value) {
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w.resolve({ value, done: false });
          return;
        }
        queue.push(value);
        if (queue.length - head >= highWaterMark) flow.pause();
      },
      error(err) {
        failure = toConnectError(err);
        signal.removeEventListener("abort", onAbort);
        settle();
      },
      complete() {
        done = true;
        signal.removeEventListener("abort", onAbort);
        settle();
      },
    });
  };

  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (!subscription && !failure) start();
      if (head < queue.length) return Promise.resolve({ value: take(), done: false });
      if (failure) return Promise.reject(failure);
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    return() {
      done = true;
      stop();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** What an aborted call reports: the signal's reason if it is a ConnectError (deadline). */
function abortError(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, reason);
}
