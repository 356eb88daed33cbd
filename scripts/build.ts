import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";

// Bundles src/ and its dependencies into one CommonJS file for production (`npm start`, the
// Docker image). Loading one pre-stripped script instead of ~900 ES modules, and requiring Node
// built-ins instead of importing them (the ESM facade of node:http loads Node's own undici),
// halves the cold start and trims resident memory. Tests run src/ directly.
//
// Layout of OUT (default dist/):
//   main.cjs                 entry: turns the compile cache on, then loads the bundle
//   lib/geminate.cjs         the bundle
//   gen/descriptors.binpb    read by the reflection service at ../gen/ from the bundle, as from
//                            src/rpc/ in the source tree

const root = resolve(import.meta.dirname, "..");

/**
 * undici's index loads fetch, WebSocket, caches and mocks (~60 ms of a cold start); geminate
 * uses three of its parts, taken from their own files, plus the request API the index adds to
 * every dispatcher. A name outside this list fails the build; test/main.test.ts runs the bundle.
 */
const undiciParts: Plugin = {
  name: "undici-parts",
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: "undici", namespace: "undici-parts" }));
    b.onLoad({ filter: /.*/, namespace: "undici-parts" }, () => ({
      resolveDir: root,
      contents: `
        import Dispatcher from "undici/lib/dispatcher/dispatcher.js";
        import * as api from "undici/lib/api/index.js";
        Object.assign(Dispatcher.prototype, api);
        export { default as Pool } from "undici/lib/dispatcher/pool.js";
        export { default as Agent } from "undici/lib/dispatcher/agent.js";
        export { default as buildConnector } from "undici/lib/core/connect.js";`,
    }));
  },
};
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
  banner: { js: "const __bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  // pino starts pino-pretty in a worker by module name: both stay ordinary dependencies.
  external: ["pino", "pino-pretty"],
  legalComments: "none",
  // Without comments the source is ASCII: V8 keeps it (for lazy compilation) at one byte per
  // character instead of two, ~4 MB less resident. Names stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [undiciParts, rxjsModules],
  logLevel: "warning",
});
mkdirSync(join(out, "gen"), { recursive: true });
copyFileSync(join(root, "src/gen/descriptors.binpb"), join(out, "gen/descriptors.binpb"));
// The cache covers code compiled after it is enabled, hence a separate entry file.
writeFileSync(
  join(out, "main.cjs"),
  '"use strict";\nrequire("node:module").enableCompileCache?.();\nrequire("./lib/geminate.cjs").serve();\n',
);
