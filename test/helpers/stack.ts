import type { SpanExporter } from "@opentelemetry/sdk-trace";
import { type Config, loadConfig } from "../../src/config.ts";
import { type Emulator, type EmulatorOptions, startEmulator } from "../../src/emulator/emulator.ts";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import { createLogger } from "../../src/logger.ts";

export interface Stack {
  /** Base URL of geminate, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly gateway: Gateway;
  /** The upstream geminate talks to, when the stack started one. */
  readonly emulator: Emulator | undefined;
  close(): Promise<void>;
}

export const UPSTREAM_KEY = "test-upstream-key";

/**
 * geminate on 127.0.0.1:0, the way `npm start` wires it. With `emulator` options it talks to an
 * emulator of the test's own (scriptable); with `upstreamUrl` to any loopback upstream; else to
 * its embedded emulator.
 */
export async function startStack(
  options: {
    env?: Record<string, string>;
    emulator?: Partial<EmulatorOptions>;
    upstreamUrl?: string;
    /** Upstream keys, when not the one test key. */
    upstreamKeys?: string[];
    /** Where the gateway's log lines go (silent otherwise). */
    logs?: NodeJS.WritableStream;
    /** Spans go here (tracing is off otherwise). */
    spanExporter?: SpanExporter;
  } = {},
): Promise<Stack> {
  const emulator = options.emulator
    ? await startEmulator({ apiKey: UPSTREAM_KEY, ...options.emulator })
    : undefined;
  const upstreamUrl = options.upstreamUrl ?? emulator?.url;
  const config: Config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: options.logs ? "info" : "silent",
    ...(upstreamUrl && {
      GEMINI_API_KEY: (options.upstreamKeys ?? [UPSTREAM_KEY]).join(","),
      GEMINI_BASE_URL: upstreamUrl,
    }),
    ...options.env,
  });
  const gateway = await startGateway(config, createLogger(config.logLevel, options.logs), {
    ...(options.spanExporter && { spanExporter: options.spanExporter }),
  });
  return {
    url: `http://127.0.0.1:${gateway.address.port}`,
    gateway,
    emulator: emulator ?? gateway.emulator,
    async close() {
      await gateway.stop(1_000);
      await emulator?.close();
    },
  };
}
