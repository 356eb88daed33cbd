import { z } from "zod";

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

/** Every setting, from the environment. README's configuration table lists the same. */
const environment = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default("0.0.0.0"),
  GEMINI_API_KEY: list,
  GEMINI_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .default("https://generativelanguage.googleapis.com"),
  GEMINATE_API_KEYS: list,
  GEMINATE_FETCH_ALLOW_PRIVATE: flag,
  GEMINATE_MAX_BODY_BYTES: positive(32 * 1024 * 1024),
  GEMINATE_SHUTDOWN_GRACE_MS: positive(25_000),
  GEMINATE_DRAIN_DELAY_MS: z.coerce.number().int().min(0).default(0),
  GEMINI_CONNECT_TIMEOUT_MS: positive(5_000),
  GEMINI_FIRST_BYTE_TIMEOUT_MS: positive(120_000),
  GEMINI_IDLE_TIMEOUT_MS: positive(120_000),
  GEMINATE_MAX_STREAM_MS: z.coerce.number().int().min(0).default(0),
  GEMINATE_MAX_INFLIGHT: positive(1024),
  GEMINI_RETRY_ATTEMPTS: positive(3),
  GEMINI_RETRY_MAX_WAIT_MS: z.coerce.number().int().min(0).default(20_000),
  GEMINATE_SSE_PING_MS: positive(15_000),
  GEMINATE_RATE_LIMIT_RPM: z.coerce.number().int().min(0).default(0),
  GEMINATE_RATE_LIMIT_TPM: z.coerce.number().int().min(0).default(0),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.string().default("development"),
});

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
    logLevel: e.LOG_LEVEL,
    production: e.NODE_ENV === "production",
  });
}
