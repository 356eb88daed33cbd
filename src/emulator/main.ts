import { startEmulator } from "./emulator.ts";

// `npm run emulator`: the embedded Gemini on its own, for trying clients against it.
const apiKey = process.env.GEMINI_API_KEY || "emulator-key";
const emulator = await startEmulator({
  apiKey,
  host: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.EMULATOR_PORT ?? 8090),
  words: Number(process.env.EMULATOR_WORDS ?? 0),
  chunk: Number(process.env.EMULATOR_CHUNK ?? 1),
  delay: Number(process.env.EMULATOR_DELAY_MS ?? 0),
});
console.log(`Gemini emulator at ${emulator.url} (key: ${apiKey})`);
const stop = () => void emulator.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
