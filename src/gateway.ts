import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SpanExporter } from "@opentelemetry/sdk-trace";
import type { Config } from "./config.ts";
import { Chat } from "./core/chat.ts";
import { ModelCatalogue } from "./core/models.ts";
import { type Emulator, startEmulator } from "./emulator/emulator.ts";
import { GeminiClient } from "./gemini/gemini-client.ts";
import type { Logger } from "./logger.ts";
import { anyAddress, publicUnicastOnly, SafeFetch } from "./media/safe-fetch.ts";
import { HealthState } from "./rpc/health-state.ts";
import { CallObserver } from "./server/call-record.ts";
import { ClientKeys } from "./server/client-keys.ts";
import { createHandler } from "./server/create-handler.ts";
import { OnePortServer } from "./server/one-port-server.ts";
import { RateLimiter } from "./server/rate-limiter.ts";
import { Metrics } from "./telemetry/metrics.ts";
import { createTracing } from "./telemetry/tracing.ts";

export interface Gateway {
  readonly address: AddressInfo;
  /** The embedded emulator when no GEMINI_API_KEY is set. */
  readonly emulator: Emulator | undefined;
  /** Open client connections. */
  readonly connections: number;
  /** Upstream calls in flight (0 when nothing is left running). */
  readonly upstreamInflight: number;
  /**
   * Drain: readiness and health fail at once; after `drainDelayMs` (while load balancers
   * notice) the port stops accepting, HTTP/2 sessions get GOAWAY and running calls may finish
   * within `graceMs`; then the rest end with an error.
   */
  stop(graceMs: number, drainDelayMs?: number): Promise<void>;
}

/** Wires config → upstream → core → one-port server, and starts listening. */
export interface GatewayOptions {
  /** Spans go here instead of an OTLP exporter (tests). */
  spanExporter?: SpanExporter;
}

export async function startGateway(
  config: Config,
  logger: Logger,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const onEmulator = config.geminiApiKeys.length === 0;
  if (onEmulator && config.production) {
    throw new Error(
      "GEMINI_API_KEY is not set, and NODE_ENV=production refuses to run on the emulator",
    );
  }
  const emulatorKey = randomBytes(16).toString("hex");
  const emulator = onEmulator ? await startEmulator({ apiKey: emulatorKey }) : undefined;
  const upstream = new GeminiClient({
    baseUrl: emulator?.url ?? config.geminiBaseUrl,
    apiKeys: emulator ? [emulatorKey] : config.geminiApiKeys,
    h2c: emulator !== undefined || config.upstream.h2c,
    connectTimeoutMs: config.upstream.connectTimeoutMs,
    firstByteTimeoutMs: config.upstream.firstByteTimeoutMs,
    idleTimeoutMs: config.upstream.idleTimeoutMs,
    maxStreamMs: config.upstream.maxStreamMs,
    maxInflight: config.upstream.maxInflight,
    maxAttempts: config.upstream.maxAttempts,
    maxRetryWaitMs: config.upstream.maxRetryWaitMs,
  });
  if (emulator) {
    logger.warn(
      { emulator: emulator.url },
      "GEMINI_API_KEY is not set: answering from the embedded Gemini emulator, not from Gemini",
    );
  }
  const clientKeys = new ClientKeys(config.clientKeys);
  if (clientKeys.open) logger.warn("GEMINATE_API_KEYS is not set: every caller is let in");

  const catalogue = new ModelCatalogue();
  const shutdown = new AbortController();
  // The upstream's own model list joins the catalogue once the port is open (the catalogue
  // serves its known models until then), and is refreshed now and then.
  const learnModels = () =>
    upstream.listModels(shutdown.signal).then(
      (ids) => catalogue.learn(ids),
      (err: unknown) => logger.warn({ err }, "could not list the upstream's models"),
    );
  const relearn = setInterval(learnModels, 10 * 60_000).unref();
  const fetcher = new SafeFetch({
    policy: config.fetchAllowPrivate ? anyAddress : publicUnicastOnly,
    ...(!config.fetchAllowPrivate && { ports: new Set([80, 443]) }),
    maxBytes: 20 * 1024 * 1024,
    timeoutMs: 10_000,
    maxRedirects: 5,
  });
  const health = new HealthState();
  const tracing = await createTracing(process.env, options.spanExporter);
  const metrics = new Metrics({
    inflightUpstream: () => upstream.inflight,
    retries: () => upstream.retries,
    keyStates: () => upstream.keyStates,
  });
  const server = new OnePortServer(
    createHandler({
      chat: new Chat({
        upstream,
        catalogue,
        fetcher,
        report: (model, seconds, first, usage, error) =>
          metrics.upstreamCall(model, seconds, first, usage, error),
        onFetchRefused: () => metrics.fetchRefusals.inc(),
      }),
      clientKeys,
      observer: new CallObserver(logger, metrics, tracing.tracer),
      metrics,
      health,
      shutdownSignal: shutdown.signal,
      maxBodyBytes: config.maxBodyBytes,
      ssePingMs: config.ssePingMs,
      limiter:
        config.rateLimit.requestsPerMinute > 0 || config.rateLimit.tokensPerMinute > 0
          ? new RateLimiter(config.rateLimit)
          : undefined,
      ...(emulator && { upstreamLabel: "emulator" }),
    }),
  );
  const address = await server.listen(config.port, config.host);
  void learnModels();
  // Optionally /metrics (and the probes) on a port of their own, off the traffic port.
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : http.createServer((req, res) => {
          const path = (req.url ?? "/").split("?", 1)[0];
          if (path === "/metrics") {
            void metrics.registry.metrics().then((text) => {
              res.writeHead(200, { "content-type": metrics.registry.contentType });
              res.end(text);
            });
          } else if (path === "/healthz" || path === "/readyz") {
            const ok = path === "/healthz" || !health.draining;
            res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
            res.end(JSON.stringify({ status: ok ? "ok" : "draining" }));
          } else {
            res.writeHead(404);
            res.end();
          }
        });
  if (metricsServer)
    await new Promise<void>((r) => metricsServer.listen(config.metricsPort, config.host, r));
  logger.info(
    {
      host: address.address,
      port: address.port,
      upstream: emulator ? "emulator" : config.geminiBaseUrl,
    },
    "geminate is serving OpenAI, gRPC, Connect and gRPC-Web on one port",
  );

  return {
    address,
    emulator,
    get connections() {
      return server.connections;
    },
    get upstreamInflight() {
      return upstream.inflight;
    },
    async stop(graceMs, drainDelayMs = 0) {
      health.drain();
      clearInterval(relearn);
      if (drainDelayMs > 0) await new Promise((r) => setTimeout(r, drainDelayMs));
      const deadline = setTimeout(
        () => shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable)),
        graceMs,
      );
      await server.close(graceMs + 1_000);
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      clearTimeout(deadline);
      await upstream.close();
      await fetcher.close();
      await tracing.shutdown();
      await emulator?.close();
    },
  };
}
