import { createRequire } from "node:module";
import { pino } from "pino";

/**
 * The root logger. Keys, authorization headers and prompt content are redacted wherever they
 * appear in a logged object; prompts are not logged in the first place.
 */
export function createLogger(level: string, destination?: pino.DestinationStream) {
  const options: pino.LoggerOptions = {
    level,
    base: { service: "geminate" },
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "*.headers.authorization",
        '*.headers["x-goog-api-key"]',
        '*["x-goog-api-key"]',
        "*.headers.cookie",
        "apiKey",
        "*.apiKey",
        "messages",
        "*.messages",
        "contents",
        "*.contents",
      ],
      censor: "[redacted]",
    },
  };
  if (destination) return pino(options, destination);
  // A person at a terminal gets readable lines, formatted in-process (a transport would start a
  // worker thread); everything else gets JSON. pino-pretty loads only then.
  if (process.stdout.isTTY) {
    const pretty: typeof import("pino-pretty") = createRequire(import.meta.url)("pino-pretty");
    return pino(options, pretty({ sync: true }));
  }
  return pino(options);
}

export type Logger = pino.Logger;
