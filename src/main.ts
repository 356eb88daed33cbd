import { randomBytes } from "node:crypto";
import { type Config, loadConfig } from "./config.ts";
import { Chat } from "./core/chat.ts";
import { startEmulator } from "./emulator/emulator.ts";
import { GeminiClient } from "./gemini/gemini-client.ts";
import { createLogger } from "./logger.ts";
import { ClientKeys } from "./server/client-keys.ts";
import { createHandler } from "./server/create-handler.ts";
import { OnePortServer } from "./server/one-port-server.ts";

// Composition root: config → logger → upstream → server; signals.

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`geminate: ${(err as Error).message}`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);

const onEmulator = config.geminiApiKeys.length === 0;
if (onEmulator && config.production) {
  logger.fatal("GEMINI_API_KEY is not set, and NODE_ENV=production refuses to run on the emulator");
  process.exit(1);
}
const emulatorKey = randomBytes(16).toString("hex");
const emulator = onEmulator ? await startEmulator({ apiKey: emulatorKey }) : undefined;
const upstream = new GeminiClient({
  baseUrl: emulator?.url ?? config.geminiBaseUrl,
  apiKey: emulator ? emulatorKey : config.geminiApiKeys[0]!,
});
if (emulator) {
  logger.warn(
    { emulator: emulator.url },
    "GEMINI_API_KEY is not set: answering from the embedded Gemini emulator, not from Gemini",
  );
}
if (config.geminiApiKeys.length > 1) {
  logger.warn(
    "several GEMINI_API_KEY values given: only the first is used until the key pool lands",
  );
}
const clientKeys = new ClientKeys(config.clientKeys);
if (clientKeys.open) logger.warn("GEMINATE_API_KEYS is not set: every caller is let in");

const shutdown = new AbortController();
let ready = true;
const server = new OnePortServer(
  createHandler({
    chat: new Chat({ upstream }),
    clientKeys,
    logger,
    isReady: () => ready,
    shutdownSignal: shutdown.signal,
    maxBodyBytes: config.maxBodyBytes,
    ...(emulator && { upstreamLabel: "emulator" }),
  }),
);
const address = await server.listen(config.port, config.host);
logger.info(
  {
    host: address.address,
    port: address.port,
    upstream: emulator ? "emulator" : config.geminiBaseUrl,
  },
  "geminate is serving OpenAI, gRPC, Connect and gRPC-Web on one port",
);

/**
 * Drain: readiness fails at once, the port stops accepting, HTTP/2 sessions get GOAWAY and
 * running calls may finish within the grace period; then the rest end with an error.
 */
async function stop(signal: string): Promise<void> {
  logger.info({ signal, graceMs: config.shutdownGraceMs }, "draining");
  ready = false;
  const deadline = setTimeout(() => shutdown.abort(), config.shutdownGraceMs);
  await server.close(config.shutdownGraceMs + 1_000);
  clearTimeout(deadline);
  await upstream.close();
  await emulator?.close();
  logger.info("stopped");
  process.exit(0);
}
process.once("SIGTERM", (s) => void stop(s));
process.once("SIGINT", (s) => void stop(s));
