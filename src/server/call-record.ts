import { Code, ConnectError, createContextKey } from "@connectrpc/connect";
import type { Span, Tracer } from "@opentelemetry/api";
import type { Usage } from "../gen/geminate/v1/chat_pb.js";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { endCallSpan, startCallSpan, traceHeaders } from "../telemetry/tracing.ts";

/** What one call did, filled in as it runs; one log line per call is made from it. */
export interface CallRecord {
  readonly id: string;
  readonly protocol: "openai" | "grpc" | "grpc-web" | "connect";
  readonly route: string;
  readonly started: number;
  /** The client key's name ("key-0", "anonymous"); never the key. */
  client?: string | undefined;
  model?: string;
  usage?: Usage | undefined;
  /** HTTP status for the OpenAI facade. */
  status?: number;
  error?: unknown;
  /** The caller left before the answer was complete. */
  cancelled?: boolean;
  /** When the first answer token went out (streams). */
  firstToken?: number;
  /** The call's span; its context travels upstream in `upstreamHeaders`. */
  span?: Span;
  /** Headers for the call to Gemini (W3C trace context). */
  upstreamHeaders?: Record<string, string>;
}

/** Where ChatService handlers find their call's record (set by the observing interceptor). */
export const callRecordKey = createContextKey<CallRecord | undefined>(undefined);

/**
 * Every call's beginning and end, in one place: its span (under the caller's trace context),
 * the in-flight gauge, and at the end the log line, the GenAI metrics and the span's close.
 */
export class CallObserver {
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #tracer: Tracer;

  constructor(logger: Logger, metrics: Metrics, tracer: Tracer) {
    this.#logger = logger;
    this.#metrics = metrics;
    this.#tracer = tracer;
  }

  begin(
    fields: Pick<CallRecord, "id" | "protocol" | "route" | "client">,
    carrier: Record<string, string | string[] | undefined> | Headers,
  ): CallRecord {
    const span = startCallSpan(this.#tracer, carrier, { "geminate.protocol": fields.protocol });
    this.#metrics.callStarted(fields.protocol);
    return { ...fields, started: performance.now(), span, upstreamHeaders: traceHeaders(span) };
  }

  end(record: CallRecord): void {
    logCall(this.#logger, record);
    this.#metrics.callEnded(record);
    if (record.span) {
      const error = record.error === undefined ? undefined : ConnectError.from(record.error);
      endCallSpan(record.span, {
        model: record.model,
        inputTokens: record.usage?.promptTokens,
        outputTokens: record.usage?.completionTokens,
        error: record.cancelled ? "cancelled" : error ? Code[error.code] : undefined,
      });
    }
  }
}

/**
 * The one line per call: protocol, route, model, status, duration and tokens. A caller that
 * leaves is a client cancel (info, 499), not a server error; upstream failures are warnings and
 * only our own bugs are errors. No prompt, answer or key is ever in it.
 */
function logCall(logger: Logger, record: CallRecord): void {
  const error = record.error === undefined ? undefined : ConnectError.from(record.error);
  const code = record.cancelled ? Code.Canceled : error?.code;
  const line = {
    reqId: record.id,
    protocol: record.protocol,
    route: record.route,
    model: record.model,
    client: record.client,
    status: record.cancelled ? 499 : record.status,
    code: code === undefined ? "ok" : Code[code],
    durationMs: Math.round((performance.now() - record.started) * 10) / 10,
    promptTokens: record.usage?.promptTokens,
    completionTokens: record.usage?.completionTokens,
    ...(error && !record.cancelled && { error: error.rawMessage }),
  };
  if (code === Code.Internal || code === Code.DataLoss)
    logger.error({ ...line, err: record.error }, "call failed");
  else if (code === Code.Unknown || code === Code.Unavailable || code === Code.DeadlineExceeded) {
    logger.warn(line, "call failed upstream");
  } else logger.info(line, record.cancelled ? "call cancelled by the client" : "call");
}
