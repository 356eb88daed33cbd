import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";

// Bundles src/ and its dependencies into one CommonJS file for production (`npm start`, the
// Docker image). Loading one pre-stripped script instead of ~900 ES modules, and requiring Node
// built-ins instead of importing them (the ESM facade of node:http loads Node's own undici),
// halves the cold start and trims resident memory. Tests run src/ directly.
//
// Layout of OUT (default dist/):
//   main.cjs                 entry (scripts/main.cjs): loads the bundle with its code cache
//   lib/geminate.cjs         the bundle, as a function of (exports, require, module, …)
//   lib/geminate.cache       V8 code cache, made by a short run of the bundle at the end
//   gen/descriptors.binpb    read by the reflection service at ../gen/ from the bundle, as from
//                            src/rpc/ in the source tree

const root = resolve(import.meta.dirname, "..");

/** A package's import resolved to a module of its own that takes only the parts listed. */
function packageParts(name: string, contents: string): Plugin {
  return {
    name: `${name}-parts`,
    setup(b) {
      const filter = new RegExp(`^${name}$`);
      b.onResolve({ filter }, () => ({ path: name, namespace: `${name}-parts` }));
      b.onLoad({ filter: /.*/, namespace: `${name}-parts` }, () => ({
        resolveDir: root,
        contents,
      }));
    },
  };
}

/**
 * undici's index loads fetch, WebSocket, caches and mocks (~60 ms of a cold start); geminate
 * uses three of its parts, taken from their own files, plus the request API the index adds to
 * every dispatcher. A name outside this list fails the build; test/main.test.ts runs the bundle.
 */
const undiciParts = packageParts(
  "undici",
  `import Dispatcher from "undici/lib/dispatcher/dispatcher.js";
  import * as api from "undici/lib/api/index.js";
  Object.assign(Dispatcher.prototype, api);
  export { default as Pool } from "undici/lib/dispatcher/pool.js";
  export { default as Agent } from "undici/lib/dispatcher/agent.js";
  export { default as buildConnector } from "undici/lib/core/connect.js";`,
);

/**
 * prom-client's index also loads its push gateway client (https, hence tls), cluster
 * aggregation (node:cluster) and summaries; geminate uses the five parts below.
 */
const promClientParts = packageParts(
  "prom-client",
  `export { default as Registry } from "prom-client/lib/registry.js";
  export { default as Counter } from "prom-client/lib/counter.js";
  export { default as Gauge } from "prom-client/lib/gauge.js";
  export { default as Histogram } from "prom-client/lib/histogram.js";
  export { default as collectDefaultMetrics } from "prom-client/lib/defaultMetrics.js";`,
);

/**
 * rxjs's "node" export is its CommonJS build, which loads every operator (~10 ms); its ES
 * module build is side-effect free, so the bundle keeps only what geminate uses.
 */
const rxjsModules: Plugin = {
  name: "rxjs-modules",
  setup(b) {
    b.onResolve({ filter: /^rxjs$/ }, () => ({
      path: join(root, "node_modules/rxjs/dist/esm/index.js"),
    }));
  },
};

/**
 * @bufbuild/protobuf's base64 coders with Node's native one in front (scripts/node-base64.ts
 * says why). Its two exported functions are renamed and called where Node cannot answer; the
 * build fails if they are not found, so an upgrade that moves them is noticed.
 */
let protobufBase64Replaced = false;
const protobufBase64: Plugin = {
  name: "protobuf-base64",
  setup(b) {
    const file = /@bufbuild[\\/]protobuf[\\/]dist[\\/]esm[\\/]wire[\\/]base64-encoding\.js$/;
    b.onLoad({ filter: file }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const renamed = source
        .replace("export function base64Decode(", "function protobufBase64Decode(")
        .replace("export function base64Encode(", "function protobufBase64Encode(");
      if (
        !renamed.includes("function protobufBase64Decode(") ||
        renamed.includes("export function")
      )
        throw new Error(`${args.path}: its base64 functions are not where the build expects them`);
      protobufBase64Replaced = true;
      const node = JSON.stringify(join(root, "scripts/node-base64.ts"));
      return {
        contents: `${renamed}
import { nodeBase64Decode, nodeBase64Encode } from ${node};
export function base64Decode(text) { return nodeBase64Decode(text) ?? protobufBase64Decode(text); }
export const base64Encode = nodeBase64Encode;`,
        loader: "js",
      };
    });
  },
};

const out = resolve(root, process.argv[2] ?? "dist");

await build({
  entryPoints: [join(root, "src/serve.ts")],
  outfile: join(out, "lib/geminate.cjs"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node24",
  // import.meta does not exist in CommonJS; the bundle's own URL stands in for it.
  // esbuildDetection: undici leaves out its experimental Milo parser, as in Node's own bundle.
  define: { "import.meta.url": "__bundle_url", esbuildDetection: "true" },
  // The file is one function expression of CommonJS's module parameters, which main.cjs
  // compiles as it stands: wrapping 1.2 MB of source at start-up would copy it.
  banner: {
    js: "(function (exports, require, module, __filename, __dirname) {const __bundle_url = require('node:url').pathToFileURL(__filename).href;",
  },
  footer: { js: "})" },
  // The logger loads pino-pretty by name, and only at a terminal.
  external: ["pino-pretty"],
  legalComments: "none",
  // Without comments the source is ASCII: V8 keeps it (for lazy compilation) at one byte per
  // character instead of two, ~4 MB less resident. Names stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [undiciParts, promClientParts, rxjsModules, protobufBase64],
  logLevel: "warning",
});
if (!protobufBase64Replaced) throw new Error("the bundle took protobuf's base64 coders elsewhere");
mkdirSync(join(out, "gen"), { recursive: true });
copyFileSync(join(root, "src/gen/descriptors.binpb"), join(out, "gen/descriptors.binpb"));
copyFileSync(join(root, "scripts/main.cjs"), join(out, "main.cjs"));
rmSync(join(out, "lib/geminate.cache"), { force: true });
await warmUp(out);

/**
 * Runs the bundle on its embedded emulator, sends it the calls a user would (OpenAI unary and
 * streamed, the model list, Connect), and stops it: main.cjs then writes the code cache.
 */
async function warmUp(dir: string): Promise<void> {
  const child = spawn(process.execPath, [join(dir, "main.cjs")], {
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  let log = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      log += d;
      const line = log.split("\n").find((l) => l.includes("serving OpenAI"));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    void exited.then(() => reject(new Error(`the warm-up run exited early:\n${log}`)));
    // A bundle that neither serves nor exits must fail the build, not hang it.
    setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the warm-up run did not serve within 30 s:\n${log}`));
    }, 30_000).unref();
  });
  const base = `http://127.0.0.1:${port}`;
  const expectOk = async (r: Response) => {
    if (!r.ok) throw new Error(`warm-up call: HTTP ${r.status} ${await r.text()}`);
    await r.text();
  };
  const post = (path: string, body: unknown) =>
    fetch(base + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(expectOk);
  const chat = { model: "gemini-2.5-flash", messages: [{ role: "user", content: "warm up" }] };
  for (let i = 0; i < 3; i++) {
    await post("/v1/chat/completions", chat);
    await post("/v1/chat/completions", { ...chat, stream: true });
    await fetch(`${base}/v1/models`).then(expectOk);
    await post("/geminate.v1.ChatService/Complete", {
      model: chat.model,
      messages: [{ role: "ROLE_USER", content: [{ text: "warm up" }] }],
    });
  }
  child.kill("SIGTERM");
  await exited;
  if (!existsSync(join(dir, "lib/geminate.cache")))
    throw new Error(`the warm-up run wrote no code cache:\n${log}`);
}
