import { StringDecoder } from "node:string_decoder";
import { Code } from "@connectrpc/connect";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { Subscriber } from "rxjs";
import type { Dispatcher } from "undici";
import type { Flow } from "../core/flow.ts";
import { GatewayError } from "../core/gateway-error.ts";
import { upstreamError } from "./map-status.ts";

type Body = Dispatcher.ResponseData["body"];

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
 * Reads Gemini's SSE body into events, one read at a time: the next read waits while `flow` is
 * paused (the consumer is full), and silence is timed only while waiting for data, never while
 * paused for a slow client. A bare JSON error object after the events (Gemini's mid-stream
 * failure) and a malformed stream are errors, not a quiet end.
 */
export async function readEvents<T>(
  body: Body,
  parse: (data: string) => T,
  subscriber: Subscriber<T>,
  options: ReadOptions,
): Promise<void> {
  const { flow, signal } = options;
  // Lines that are not SSE fields: Gemini appends a bare JSON error object mid-stream.
  let stray = "";
  let failure: unknown;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_BYTES,
    onEvent(event: EventSourceMessage) {
      if (failure !== undefined || subscriber.closed) return;
      try {
        subscriber.next(parse(event.data));
      } catch (err) {
        failure = err;
      }
    },
    onError(error) {
      if (error.type === "unknown-field" && error.line !== undefined) stray += `${error.line}\n`;
      else
        failure ??= new GatewayError(`Gemini stream is malformed: ${error.message}`, Code.Unknown);
    },
  });
  // Silence is timed only while waiting for data: a timer that fires while the read is paused
  // for a slow client does nothing, and is re-armed when reading resumes.
  let waiting = true;
  const first = setTimeout(() => {
    if (waiting) options.onTimeout("Gemini sent no answer in time");
  }, options.firstEventMs);
  let idle: NodeJS.Timeout | undefined;
  // Node's decoder for Buffers: a character split across reads waits for its other bytes. A
  // streaming TextDecoder cost 1.3 KB per stream here (an ICU converter) against 0.5 KB, and
  // twice the time per read.
  const decoder = new StringDecoder("utf8");
  const reader = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      waiting = true;
      const next = await reader.next();
      waiting = false;
      if (next.done) break;
      clearTimeout(first);
      parser.feed(decoder.write(next.value as Buffer));
      if (failure !== undefined) throw failure;
      if (flow.paused) await flow.ready(signal);
      if (signal.aborted || subscriber.closed) return;
      if (idle) idle.refresh();
      else {
        idle = setTimeout(() => {
          if (waiting) options.onTimeout("Gemini went silent mid-answer");
        }, options.idleMs);
      }
    }
  } finally {
    clearTimeout(first);
    clearTimeout(idle);
    if (signal.aborted || subscriber.closed) await reader.return?.();
  }
  // A body that ends without the blank line after its last event still delivers that event.
  parser.feed(`${decoder.end()}\n\n`);
  if (failure !== undefined) throw failure;
  if (stray.trim()) throw upstreamError(200, stray);
}

export async function readText(body: Body, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new GatewayError("Gemini's answer is too large", Code.Unknown);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
