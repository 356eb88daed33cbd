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
  // A person at a terminal gets readable lines; everything else gets JSON.
  if (process.stdout.isTTY) return pino({ ...options, transport: { target: "pino-pretty" } });
  return pino(options);
}

export type Logger = pino.Logger;
