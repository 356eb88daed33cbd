import { StringDecoder } from "node:string_decoder";
import { Code } from "@connectrpc/connect";
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import type { Subscriber } from "rxjs";
import type { Flow } from "../core/flow.ts";
import { GatewayError } from "../core/gateway-error.ts";
import type { BodySink, Exchange } from "./exchange.ts";
import { upstreamError } from "./map-status.ts";

/** Largest single SSE event (one image chunk holds a whole base64 picture). */
const MAX_EVENT_BYTES = 64 * 1024 * 1024;

export interface ReadOptions {
  flow: Flow;
  signal: AbortSignal;
  /** Silence allowed before the first event. */
  firstEventMs: number;
  /** Silence allowed between events. */
  idleMs: number;
  /** Ends the call with a DeadlineExceeded error. */
  onTimeout: (message: string) => void;
}

/**
 * Reads an answer's SSE body into events as it arrives: the exchange pauses while `flow` is
 * paused (the consumer is full), and silence is timed only while waiting for data, never while
 * paused for a slow client. A bare JSON error object after the events (Gemini's mid-stream
 * failure) and a malformed stream are errors, not a quiet end. Settles when the body ends.
 */
export function readEvents<T>(
  exchange: Exchange,
  parse: (data: string) => T,
  subscriber: Subscriber<T>,
  options: ReadOptions,
): Promise<void> {
  return new Promise((resolve, reject) => {
    exchange.pipe(new EventReader(exchange, parse, subscriber, options, resolve, reject));
  });
}

// A class rather than closures: an open stream holds its reader for its whole life.

class EventReader<T> implements BodySink {
  readonly #exchange: Exchange;
  readonly #parse: (data: string) => T;
  readonly #subscriber: Subscriber<T>;
  readonly #options: ReadOptions;
  readonly #resolve: () => void;
  readonly #reject: (err: unknown) => void;
  readonly #parser: EventSourceParser;
  // Node's decoder for Buffers: a character split across reads waits for its other bytes. A
  // streaming TextDecoder cost 1.3 KB per stream here (an ICU converter) against 0.5 KB, and
  // twice the time per read.
  readonly #decoder = new StringDecoder("utf8");
  /** Lines that are not SSE fields: Gemini appends a bare JSON error object mid-stream. */
  #stray = "";
  #failure: unknown;
  /** Waiting for data, as opposed to paused for the consumer: only then is silence timed. */
  #waiting = true;
  #first: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  #settled = false;

  constructor(
    exchange: Exchange,
    parse: (data: string) => T,
    subscriber: Subscriber<T>,
    options: ReadOptions,
    resolve: () => void,
    reject: (err: unknown) => void,
  ) {
    this.#exchange = exchange;
    this.#parse = parse;
    this.#subscriber = subscriber;
    this.#options = options;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#parser = createParser({
      maxBufferSize: MAX_EVENT_BYTES,
      onEvent: (event: EventSourceMessage) => this.#event(event.data),
      onError: (error) => {
        if (error.type === "unknown-field" && error.line !== undefined)
          this.#stray += `${error.line}\n`;
        else
          this.#failure ??= new GatewayError(
            `Gemini stream is malformed: ${error.message}`,
            Code.Unknown,
          );
      },
    });
    this.#first = setTimeout(this.#silence, options.firstEventMs, "Gemini sent no answer in time");
  }

  data(chunk: Buffer): void {
    if (this.#settled) return;
    if (this.#first) {
      clearTimeout(this.#first);
      this.#first = undefined;
    }
    this.#parser.feed(this.#decoder.write(chunk));
    if (this.#failure !== undefined) {
      // Settled before aborting: the abort's own error must not replace the cause.
      this.#settle(this.#failure);
      this.#exchange.abort(this.#failure as Error);
      return;
    }
    const { flow, signal } = this.#options;
    if (!flow.paused) this.#armIdle();
    else if (this.#waiting) {
      this.#waiting = false;
      this.#exchange.pause();
      flow.ready(signal)?.then(this.#resume);
    }
  }

  end(): void {
    if (this.#settled) return;
    // A body that ends without the blank line after its last event still delivers that event.
    this.#parser.feed(`${this.#decoder.end()}\n\n`);
    if (this.#failure !== undefined) this.#settle(this.#failure);
    else if (this.#stray.trim()) this.#settle(upstreamError(200, this.#stray));
    else this.#settle();
  }

  fail(err: Error): void {
    this.#settle(err);
  }

  #event(data: string): void {
    if (this.#failure !== undefined || this.#subscriber.closed) return;
    try {
      this.#subscriber.next(this.#parse(data));
    } catch (err) {
      this.#failure = err;
    }
  }

  readonly #resume = (): void => {
    if (this.#settled || this.#options.signal.aborted) return;
    this.#waiting = true;
    this.#armIdle();
    this.#exchange.resume();
  };

  #armIdle(): void {
    if (this.#idle) this.#idle.refresh();
    else
      this.#idle = setTimeout(this.#silence, this.#options.idleMs, "Gemini went silent mid-answer");
  }

  // A timer that fires while the reader is paused for a slow client does nothing; it is re-armed
  // when reading resumes.
  readonly #silence = (message: string): void => {
    if (this.#waiting && !this.#settled) this.#options.onTimeout(message);
  };

  #settle(err?: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#first);
    clearTimeout(this.#idle);
    if (err === undefined) this.#resolve();
    else this.#reject(err);
  }
}
