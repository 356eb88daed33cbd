import * as z from "zod";

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

const flag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => v === "true" || v === "1");

const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every setting, from the environment; `--help` prints this table, README lists the same. */
const environment = z.object({
  PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8080)
    .describe("the one listening port (HTTP/1.1 and h2c)"),
  HOST: z.string().min(1).default("0.0.0.0").describe("the listening address"),
  GEMINI_API_KEY: list.describe(
    "upstream key; a comma-separated list is a key pool; unset: the embedded emulator",
  ),
  GEMINI_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .default("https://generativelanguage.googleapis.com")
    .describe("upstream base URL"),
  GEMINI_H2C: flag.describe(
    "streams use HTTP/2 with prior knowledge to an http:// GEMINI_BASE_URL (https negotiates it)",
  ),
  GEMINATE_API_KEYS: list.describe("client keys, comma-separated; unset: every caller is let in"),
  GEMINATE_FETCH_ALLOW_PRIVATE: flag.describe(
    "let media URL fetching reach private addresses and any port (default false)",
  ),
  GEMINATE_MAX_BODY_BYTES: positive(32 * 1024 * 1024).describe(
    "largest request body or gRPC message, decoded",
  ),
  GEMINATE_SHUTDOWN_GRACE_MS: positive(25_000).describe(
    "on SIGTERM, how long running calls may finish",
  ),
  GEMINATE_DRAIN_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("on SIGTERM, how long readiness fails before the port closes"),
  GEMINI_CONNECT_TIMEOUT_MS: positive(5_000).describe("connecting to Gemini"),
  GEMINI_FIRST_BYTE_TIMEOUT_MS: positive(120_000).describe(
    "from a request to Gemini's first answer event",
  ),
  GEMINI_IDLE_TIMEOUT_MS: positive(120_000).describe("silence allowed between Gemini's events"),
  GEMINATE_MAX_STREAM_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("longest an answer may last; 0: no limit"),
  GEMINATE_MAX_INFLIGHT: positive(1024).describe("upstream calls at once; past it, 503 at once"),
  GEMINI_RETRY_ATTEMPTS: positive(3).describe(
    "attempts per call, before the first answer byte only",
  ),
  GEMINI_RETRY_MAX_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(20_000)
    .describe("total waiting between attempts"),
  GEMINATE_SSE_PING_MS: positive(15_000).describe("SSE ': ping' after this much silence"),
  GEMINATE_RATE_LIMIT_RPM: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("requests per minute per client key; 0: off"),
  GEMINATE_RATE_LIMIT_TPM: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("tokens per minute per client key; 0: off"),
  METRICS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe("also serve /metrics on this port (plain HTTP); unset: only on PORT"),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .describe("pino log level"),
  NODE_ENV: z
    .string()
    .default("development")
    .describe("'production' refuses to start without GEMINI_API_KEY"),
});

/** Every setting's name (deployment manifests are checked against it). */
export function settingNames(): string[] {
  return Object.keys(environment.shape);
}

/** The settings and what they mean, for `--help`. */
export function describeSettings(): string {
  const lines = Object.entries(environment.shape).map(([name, schema]) => {
    const def = (schema as { _zod: { def: { defaultValue?: unknown } } })._zod.def.defaultValue;
    const shown = def === undefined ? "" : ` (default ${JSON.stringify(def)})`;
    return `  ${name.padEnd(30)} ${schema.description ?? ""}${shown}`;
  });
  return `${lines.join("\n")}\n  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_*         OpenTelemetry trace export (off unless set)`;
}

/** `KEY=VALUE` lines (`#` comments, optional quotes), as in a .env file. */
export function parseSettingsFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`invalid configuration file line: ${line}`);
    out[line.slice(0, at).trim()] = line
      .slice(at + 1)
      .trim()
      .replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Upstream keys; empty means "run on the embedded emulator". */
  readonly geminiApiKeys: readonly string[];
  readonly geminiBaseUrl: string;
  /** Client keys; empty means the gateway is open. */
  readonly clientKeys: readonly string[];
  readonly fetchAllowPrivate: boolean;
  readonly maxBodyBytes: number;
  readonly shutdownGraceMs: number;
  /** After SIGTERM, how long readiness is failed before the port closes (endpoint propagation). */
  readonly drainDelayMs: number;
  /** Upstream timeouts, retries and the in-flight cap. */
  readonly upstream: {
    /** Streams use HTTP/2 with prior knowledge to an http:// base URL. */
    readonly h2c: boolean;
    readonly connectTimeoutMs: number;
    readonly firstByteTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maxStreamMs: number;
    readonly maxInflight: number;
    readonly maxAttempts: number;
    readonly maxRetryWaitMs: number;
  };
  /** Per client key, per process; 0 turns a limit off. */
  readonly rateLimit: { readonly requestsPerMinute: number; readonly tokensPerMinute: number };
  /** SSE comment pings after this much silence, before the first token too. */
  readonly ssePingMs: number;
  readonly metricsPort: number | undefined;
  readonly logLevel: string;
  readonly production: boolean;
}

/** The environment → a validated, frozen config, or an error naming the bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = environment.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`invalid configuration: ${issue.path.join(".")}: ${issue.message}`);
  }
  const e = result.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    geminiApiKeys: Object.freeze(e.GEMINI_API_KEY),
    geminiBaseUrl: e.GEMINI_BASE_URL,
    clientKeys: Object.freeze(e.GEMINATE_API_KEYS),
    fetchAllowPrivate: e.GEMINATE_FETCH_ALLOW_PRIVATE,
    maxBodyBytes: e.GEMINATE_MAX_BODY_BYTES,
    shutdownGraceMs: e.GEMINATE_SHUTDOWN_GRACE_MS,
    drainDelayMs: e.GEMINATE_DRAIN_DELAY_MS,
    upstream: Object.freeze({
      h2c: e.GEMINI_H2C,
      connectTimeoutMs: e.GEMINI_CONNECT_TIMEOUT_MS,
      firstByteTimeoutMs: e.GEMINI_FIRST_BYTE_TIMEOUT_MS,
      idleTimeoutMs: e.GEMINI_IDLE_TIMEOUT_MS,
      maxStreamMs: e.GEMINATE_MAX_STREAM_MS,
      maxInflight: e.GEMINATE_MAX_INFLIGHT,
      maxAttempts: e.GEMINI_RETRY_ATTEMPTS,
      maxRetryWaitMs: e.GEMINI_RETRY_MAX_WAIT_MS,
    }),
    ssePingMs: e.GEMINATE_SSE_PING_MS,
    rateLimit: Object.freeze({
      requestsPerMinute: e.GEMINATE_RATE_LIMIT_RPM,
      tokensPerMinute: e.GEMINATE_RATE_LIMIT_TPM,
    }),
    metricsPort: e.METRICS_PORT,
    logLevel: e.LOG_LEVEL,
    production: e.NODE_ENV === "production",
  });
}
