import { Code } from "@connectrpc/connect";
import type { Dispatcher } from "undici";
import { GatewayError } from "../core/gateway-error.ts";

/** Where an answer's body goes once the caller has seen its status. */
export interface BodySink {
  data(chunk: Buffer): void;
  end(): void;
  fail(err: Error): void;
}

/**
 * One request to Gemini as an undici dispatch handler. undici's `request()` wraps the same
 * handler API in a Readable body, an async resource and an abort-signal listener of its own:
 * a quarter of the upstream client's CPU per streamed call here, and the async iteration of
 * the body cost a promise per read. `started` settles when the answer begins; the body then
 * goes whole to `text()` (an error, a unary answer) or chunk by chunk to a sink (a stream),
 * which may `pause()` the exchange while its consumer is full. Aborting `signal` cancels it
 * at once if it is running, or as soon as it leaves undici's queue (undici's hook for taking a
 * request out of its queue is internal to `request()`).
 */
export class Exchange implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: Dispatcher.ResponseData["headers"] = {};
  readonly started: Promise<void>;
  readonly #signal: AbortSignal;
  readonly #limit: number;
  #start: { resolve: () => void; reject: (err: Error) => void } | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** Body chunks held for `text()` or for a sink still to come, and their size. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  #sink: BodySink | undefined;
  /** How the body ended while held: undefined while it runs, null for a clean end. */
  #ending: Error | null | undefined;
  /** A `text()` waiting for the end. */
  #whole: { resolve: (text: string) => void; reject: (err: Error) => void } | undefined;

  /** Sends a request on `dispatcher`; `limit` caps the body bytes held (see `text()`). */
  static send(
    dispatcher: Dispatcher,
    options: Dispatcher.DispatchOptions,
    signal: AbortSignal,
    limit: number,
  ): Exchange {
    const exchange = new Exchange(signal, limit);
    dispatcher.dispatch(options, exchange);
    return exchange;
  }

  /** `limit`: the most body bytes held for `text()` or for a sink still to come. */
  constructor(signal: AbortSignal, limit: number) {
    this.#signal = signal;
    this.#limit = limit;
    this.started = new Promise((resolve, reject) => {
      this.#start = { resolve, reject };
    });
    if (!signal.aborted) signal.addEventListener("abort", this);
  }

  /** The signal's abort listener (an object, so the exchange needs no closure). */
  handleEvent(): void {
    this.abort(this.#signal.reason);
  }

  abort(reason: Error): void {
    this.#controller?.abort(reason);
  }

  pause(): void {
    this.#controller?.pause();
  }

  resume(): void {
    this.#controller?.resume();
  }

  /** The whole body as text, once it has ended. */
  text(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#whole = { resolve, reject };
      if (this.#ending !== undefined) this.#settleWhole();
    });
  }

  /** Hands the body to `sink`: what arrived already, then the rest as it comes. */
  pipe(sink: BodySink): void {
    const held = this.#held;
    this.#held = [];
    this.#sink = sink;
    for (const chunk of held) sink.data(chunk);
    if (this.#ending === null) sink.end();
    else if (this.#ending) sink.fail(this.#ending);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(this.#signal.reason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Dispatcher.ResponseData["headers"],
  ): void {
    this.statusCode = statusCode;
    this.headers = headers;
    this.#start?.resolve();
    this.#start = undefined;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#sink) {
      this.#sink.data(chunk);
      return;
    }
    this.#heldBytes += chunk.length;
    if (this.#heldBytes > this.#limit)
      controller.abort(new GatewayError("Gemini's answer is too large", Code.Unknown));
    else this.#held.push(chunk);
  }

  onResponseEnd(): void {
    this.#signal.removeEventListener("abort", this);
    if (this.#sink) this.#sink.end();
    else {
      this.#ending = null;
      this.#settleWhole();
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.#signal.removeEventListener("abort", this);
    if (this.#start) {
      this.#start.reject(err);
      this.#start = undefined;
    } else if (this.#sink) this.#sink.fail(err);
    else {
      this.#ending = err;
      this.#settleWhole();
    }
  }

  #settleWhole(): void {
    if (!this.#whole) return;
    if (this.#ending) this.#whole.reject(this.#ending);
    else this.#whole.resolve(Buffer.concat(this.#held, this.#heldBytes).toString("utf8"));
    this.#whole = undefined;
  }
}
