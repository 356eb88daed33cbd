import {
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanExporter } from "@opentelemetry/sdk-trace";

// W3C trace context is read from incoming HTTP headers and gRPC metadata and passed upstream
// whether or not spans are exported; spans are recorded only when an exporter is configured.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

export interface Tracing {
  readonly tracer: Tracer;
  shutdown(): Promise<void>;
}

/**
 * The tracer: OTLP over HTTP when the standard OTEL_* variables ask for it (or an exporter is
 * given, as tests do), else a no-op tracer whose spans cost nothing.
 */
export async function createTracing(
  env: Record<string, string | undefined>,
  exporter?: SpanExporter,
): Promise<Tracing> {
  const wanted =
    exporter !== undefined ||
    env.OTEL_TRACES_EXPORTER === "otlp" ||
    (env.OTEL_TRACES_EXPORTER !== "none" &&
      (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT));
  if (!wanted || env.OTEL_SDK_DISABLED === "true") {
    return { tracer: trace.getTracer("geminate"), shutdown: async () => {} };
  }
  // The SDK and the exporter load only when spans are wanted.
  const { BatchSpanProcessor, TracerProvider } = await import("@opentelemetry/sdk-trace");
  exporter ??= new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter();
  const provider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  return { tracer: provider.getTracer("geminate"), shutdown: () => provider.shutdown() };
}

type Carrier = Record<string, string | string[] | undefined> | Headers;

/**
 * A Fetch Headers, told apart without `instanceof Headers`: touching the global `Headers` loads
 * Node's own copy of undici (about 2 MB of heap and 10 ms), which an OpenAI-only gateway never
 * needs. Node's header objects hold only strings, so a `get` method means Headers.
 */
const isHeaders = (c: Carrier): c is Headers => typeof (c as Headers).get === "function";

const getter = {
  keys: (c: Carrier) => (isHeaders(c) ? [...c.keys()] : Object.keys(c)),
  get: (c: Carrier, key: string) => (isHeaders(c) ? (c.get(key) ?? undefined) : c[key]),
};

/** Starts a call's span (`chat {model}` once the model is known) under the caller's context. */
export function startCallSpan(
  tracer: Tracer,
  carrier: Carrier,
  attributes: Record<string, string>,
): Span {
  const parent = propagation.extract(context.active(), carrier, getter);
  return tracer.startSpan(
    "chat",
    {
      kind: SpanKind.SERVER,
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "gcp.gemini",
        ...attributes,
      },
    },
    parent,
  );
}

/** The headers that carry `span`'s context to the next hop (Gemini). */
export function traceHeaders(span: Span): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return headers;
}

export function endCallSpan(
  span: Span,
  fields: {
    model?: string | undefined;
    inputTokens?: number | undefined;
    outputTokens?: number | undefined;
    finishReasons?: string[];
    error?: string | undefined;
  },
): void {
  if (fields.model) {
    span.updateName(`chat ${fields.model}`);
    span.setAttribute("gen_ai.request.model", fields.model);
  }
  if (fields.inputTokens !== undefined)
    span.setAttribute("gen_ai.usage.input_tokens", fields.inputTokens);
  if (fields.outputTokens !== undefined)
    span.setAttribute("gen_ai.usage.output_tokens", fields.outputTokens);
  if (fields.error) {
    span.setAttribute("error.type", fields.error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: fields.error });
  }
  span.end();
}
