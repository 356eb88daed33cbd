import assert from "node:assert/strict";
import { test } from "node:test";

test("runs on the pinned Node 24 LTS", () => {
  console.log(`node ${process.version}`);
  assert.equal(process.versions.node.split(".")[0], "24");
});
