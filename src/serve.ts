import { type Config, loadConfig } from "./config.ts";
import { startGateway } from "./gateway.ts";
import { createLogger } from "./logger.ts";

// Composition root: config → logger → gateway; signals. Loaded by index.ts.

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`geminate: ${(err as Error).message}`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);

let gateway: Awaited<ReturnType<typeof startGateway>>;
try {
  gateway = await startGateway(config, logger);
} catch (err) {
  logger.fatal({ err }, (err as Error).message);
  process.exit(1);
}

async function stop(signal: string): Promise<void> {
  logger.info(
    { signal, graceMs: config.shutdownGraceMs, drainDelayMs: config.drainDelayMs },
    "draining",
  );
  await gateway.stop(config.shutdownGraceMs, config.drainDelayMs);
  logger.info("stopped");
  process.exit(0);
}
process.once("SIGTERM", (s) => void stop(s));
process.once("SIGINT", (s) => void stop(s));
