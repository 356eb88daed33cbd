import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Config, describeSettings, loadConfig, parseSettingsFile } from "./config.ts";
import { startGateway } from "./gateway.ts";
import { createLogger } from "./logger.ts";

// Composition root: config → logger → gateway; signals. Called by main.ts.

const usage = `geminate: OpenAI Chat Completions and gRPC/Connect in front of Gemini, on one port.

Usage: npm start [-- --config FILE]   (or node src/main.ts [--config FILE])

Settings come from the environment; --config FILE (or GEMINATE_CONFIG) reads KEY=VALUE lines
first, and the environment overrides them.

${describeSettings()}
`;

/** Reads the settings; a bad one stops start-up naming the variable. */
function readConfig(): Config {
  try {
    const { values } = parseArgs({
      options: { help: { type: "boolean", short: "h" }, config: { type: "string" } },
    });
    if (values.help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    const file = values.config ?? process.env.GEMINATE_CONFIG;
    return loadConfig({
      ...(file ? parseSettingsFile(readFileSync(file, "utf8")) : {}),
      ...process.env,
    });
  } catch (err) {
    console.error(`geminate: ${(err as Error).message}`);
    process.exit(1);
  }
}

/**
 * Starts the gateway and drains it on SIGTERM/SIGINT; `onStopped` runs after a drain, just
 * before the process exits. No top-level await: the bundle is CommonJS.
 */
export function serve(onStopped?: () => void): void {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  startGateway(config, logger).then(
    (gateway) => {
      const stop = async (signal: string) => {
        logger.info(
          { signal, graceMs: config.shutdownGraceMs, drainDelayMs: config.drainDelayMs },
          "draining",
        );
        await gateway.stop(config.shutdownGraceMs, config.drainDelayMs);
        logger.info("stopped");
        onStopped?.();
        process.exit(0);
      };
      process.once("SIGTERM", (s) => void stop(s));
      process.once("SIGINT", (s) => void stop(s));
    },
    (err: Error) => {
      logger.fatal({ err }, err.message);
      process.exit(1);
    },
  );
}
