"use strict";
// The production entry point, copied to dist/main.cjs by scripts/build.ts.
//
// It compiles the bundle with a V8 code cache of every function the previous run compiled, so a
// start-up skips most parsing and compiling (~25 ms on one core). Node's own compile cache
// cannot do this: it stores only the code compiled before a module runs. The cache is written
// when a run that had none (or a stale one) drains and stops; the build makes a first one with
// a short run.
// V8 checks the cache against the source and its version, and ignores one that does not match.

const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { createRequire } = require("node:module");

const bundle = path.join(__dirname, "lib/geminate.cjs");
const cacheFile = path.join(__dirname, "lib/geminate.cache");

let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  // none yet
}
// The bundle is a function expression of the CommonJS module parameters (see scripts/build.ts).
const script = new vm.Script(fs.readFileSync(bundle, "utf8"), {
  filename: bundle,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const stale = !cachedData || script.cachedDataRejected;
cachedData = undefined; // 1.4 MB that V8 no longer needs

/** After a drain: the cache then holds start-up and the request paths this run took. */
function writeCache() {
  if (!stale) return;
  const temp = `${cacheFile}.${process.pid}`;
  try {
    fs.writeFileSync(temp, script.createCachedData());
    fs.renameSync(temp, cacheFile);
  } catch {
    // A read-only image runs without one.
    fs.rmSync(temp, { force: true });
  }
}
const exported = { exports: {} };
script.runInThisContext()(
  exported.exports,
  createRequire(bundle),
  exported,
  bundle,
  path.dirname(bundle),
);
exported.exports.serve(writeCache);
