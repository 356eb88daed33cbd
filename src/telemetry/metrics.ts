import { Code, ConnectError } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Usage } from "../gen/geminate/v1/chat_pb.js";
import type { CallRecord } from "../server/call-record.ts";

const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];

const PROVIDER = "gcp.gemini";
const OPERATION = "chat";

/** Live values read at scrape time. */
export interface MetricSources {
  inflightUpstream: () => number;
  retries: () => number;
  keyStates: () => { active: number; cooling: number; disabled: number };
}

/**
 * Prometheus metrics under the OpenTelemetry GenAI names (connect-mesh.md §5), for both sides:
 * geminate as a server to its callers (labelled by protocol) and as a client of Gemini. Labels
 * stay low-cardinality: no user, key or request ids.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #serverDuration: Histogram;
  readonly #serverTtft: Histogram;
  readonly #serverTpot: Histogram;
  readonly #serverTokens: Histogram;
  readonly #clientDuration: Histogram;
  readonly #clientTtfc: Histogram;
  readonly #clientTokens: Histogram;
  readonly #inflight: Gauge;
  readonly fetchRefusals: Counter;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const common = ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"];
    this.#serverDuration = new Histogram({
      name: "gen_ai_server_request_duration_seconds",
      help: "Duration of calls to geminate, by protocol and outcome",
      labelNames: [...common, "protocol", "status", "error_type"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#serverTtft = new Histogram({
      name: "gen_ai_server_time_to_first_token_seconds",
      help: "Time from a call's arrival to its first answer token",
      labelNames: [...common, "protocol"],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.#serverTpot = new Histogram({
      name: "gen_ai_server_time_per_output_token_seconds",
      help: "Time per output token after the first",
      labelNames: [...common, "protocol"],
      buckets: TPOT_BUCKETS,
      registers,
    });
    this.#serverTokens = new Histogram({
      name: "gen_ai_server_token_usage",
      help: "Tokens per call served, by type (input/output)",
      labelNames: [...common, "protocol", "gen_ai_token_type"],
      buckets: TOKEN_BUCKETS,
      registers,
    });
    this.#clientDuration = new Histogram({
      name: "gen_ai_client_operation_duration_seconds",
      help: "Duration of calls to Gemini",
      labelNames: [...common, "error_type"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#clientTtfc = new Histogram({
      name: "gen_ai_client_operation_time_to_first_chunk_seconds",
      help: "Time from a call to Gemini to its first answer chunk",
      labelNames: common,
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.#clientTokens = new Histogram({
      name: "gen_ai_client_token_usage",
      help: "Tokens per call to Gemini, by type (input/output)",
      labelNames: [...common, "gen_ai_token_type"],
      buckets: TOKEN_BUCKETS,
      registers,
    });
    this.#inflight = new Gauge({
      name: "geminate_inflight_calls",
      help: "Calls being served, by protocol",
      labelNames: ["protocol"],
      registers,
    });
    new Gauge({
      name: "geminate_upstream_inflight",
      help: "Calls to Gemini in flight",
      registers,
      collect() {
        this.set(sources.inflightUpstream());
      },
    });
    new Counter({
      name: "geminate_upstream_retries_total",
      help: "Attempts to Gemini retried before the first answer byte",
      registers,
      collect() {
        this.reset();
        this.inc(sources.retries());
      },
    });
    new Gauge({
      name: "geminate_upstream_keys",
      help: "Upstream keys by state (active, cooling, disabled)",
      labelNames: ["state"],
      registers,
      collect() {
        for (const [state, n] of Object.entries(sources.keyStates())) this.set({ state }, n);
      },
    });
    this.fetchRefusals = new Counter({
      name: "geminate_media_fetch_refusals_total",
      help: "Media URLs refused or failed (SSRF policy, size, time, type)",
      registers,
    });
  }

  callStarted(protocol: string): void {
    this.#inflight.inc({ protocol });
  }

  /** A finished call, from its record (the same one its log line is made from). */
  callEnded(record: CallRecord): void {
    this.#inflight.dec({ protocol: record.protocol });
    const error = record.error === undefined ? undefined : ConnectError.from(record.error);
    // Only model ids that resolved become label values (a client cannot mint series), with
    // "-thinking-<budget>" folded into one.
    const known = error?.code !== Code.NotFound && error?.code !== Code.InvalidArgument;
    const labels = this.#labels(
      known ? record.model?.replace(/-thinking-\d+$/, "-thinking-N") : "unknown",
    );
    const code = record.cancelled ? Code.Canceled : error?.code;
    const seconds = (performance.now() - record.started) / 1000;
    this.#serverDuration.observe(
      {
        ...labels,
        protocol: record.protocol,
        status:
          record.status !== undefined
            ? String(record.status)
            : code === undefined
              ? "ok"
              : Code[code],
        error_type: code === undefined ? "" : Code[code],
      },
      seconds,
    );
    if (record.firstToken !== undefined) {
      this.#serverTtft.observe(
        { ...labels, protocol: record.protocol },
        (record.firstToken - record.started) / 1000,
      );
      const output = record.usage?.completionTokens ?? 0;
      if (output > 1) {
        const perToken = (performance.now() - record.firstToken) / 1000 / (output - 1);
        this.#serverTpot.observe({ ...labels, protocol: record.protocol }, perToken);
      }
    }
    if (record.usage)
      this.#tokens(this.#serverTokens, { ...labels, protocol: record.protocol }, record.usage);
  }

  /** A call to Gemini: its duration, time to first chunk and tokens. */
  upstreamCall(
    model: string,
    seconds: number,
    firstChunkSeconds: number | undefined,
    usage: Usage | undefined,
    error?: unknown,
  ): void {
    const labels = this.#labels(model);
    const code = error === undefined ? undefined : ConnectError.from(error).code;
    this.#clientDuration.observe(
      { ...labels, error_type: code === undefined ? "" : Code[code] },
      seconds,
    );
    if (firstChunkSeconds !== undefined) this.#clientTtfc.observe(labels, firstChunkSeconds);
    if (usage) this.#tokens(this.#clientTokens, labels, usage);
  }

  #labels(model: string | undefined) {
    return {
      gen_ai_operation_name: OPERATION,
      gen_ai_provider_name: PROVIDER,
      gen_ai_request_model: model ?? "",
    };
  }

  #tokens(h: Histogram, labels: Record<string, string>, usage: Usage): void {
    h.observe({ ...labels, gen_ai_token_type: "input" }, usage.promptTokens);
    h.observe({ ...labels, gen_ai_token_type: "output" }, usage.completionTokens);
  }
}
