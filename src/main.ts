import module from "node:module";

// The entry point. Compiled code is cached on disk (node_modules/.cache/node-compile-cache), so
// a restart skips most of the work of loading the dependencies; the cache only covers modules
// loaded after it is enabled, hence the dynamic import.
module.enableCompileCache?.();
void import("./serve.ts").then(({ serve }) => serve());
