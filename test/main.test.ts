import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";

// `npm start` as a user runs it: the production bundle (scripts/build.ts), built here into
// .tmp/, in its own process. The other suites run src/ directly.

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, ".tmp/main-test-dist");
execFileSync(process.execPath, [join(ROOT, "scripts/build.ts"), OUT], { stdio: "inherit" });
const MAIN = join(OUT, "main.cjs");

// A failed assertion leaves its gateway running; it must not keep the test run from ending.
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill("SIGKILL");
});

function start(env: Record<string, string>): {
  child: ChildProcess;
  lines: string[];
  ready: Promise<number>;
} {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  const lines: string[] = [];
  let buffer = "";
  const ready = new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer) => {
      buffer += d.toString();
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.includes("serving OpenAI")) resolve((JSON.parse(line) as { port: number }).port);
        nl = buffer.indexOf("\n");
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${lines.join("\n")}`)));
  });
  return { child, lines, ready };
}

test("npm start without a key serves on the embedded emulator and says so; SIGTERM drains and exits 0", async () => {
  const { child, lines, ready } = start({});
  const port = await ready;
  assert.ok(
    lines.some((l) => l.includes("embedded Gemini emulator")),
    "start-up says it runs on the emulator",
  );
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.headers.get("x-geminate-upstream"), "emulator");
  // The bundle takes only parts of prom-client: the default and the gateway's own metrics.
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /^process_cpu_user_seconds_total /m);
  assert.match(metrics, /^# TYPE gen_ai_server_request_duration_seconds histogram$/m);
  // Reflection reads the descriptor set beside the bundle.
  const reflection = new GrpcReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  assert.deepEqual(
    (await reflection.listMethods("geminate.v1.ChatService")).map((m) => m.name).sort(),
    ["Complete", "ListModels", "StreamComplete"],
  );

  // Connect JSON carries bytes as base64, which the bundle decodes with Node's coder: the
  // gateway sniffs the image it decoded.
  const png = Buffer.alloc(3000, 7);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const withImage = (data: Buffer) =>
    fetch(`http://127.0.0.1:${port}/geminate.v1.ChatService/Complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gemini-2.5-flash",
        messages: [
          {
            role: "ROLE_USER",
            content: [
              { text: "what is it?" },
              { image: { data: data.toString("base64"), mimeType: "image/png" } },
            ],
          },
        ],
      }),
    });
  assert.equal((await withImage(png)).status, 200);
  const notPng = await withImage(Buffer.alloc(3000, 7));
  assert.equal(notPng.status, 400);
  assert.match(await notPng.text(), /the data is not image\/png/);

  // A stream in flight when SIGTERM arrives still completes.
  const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "gemini-2.5-flash",
      stream: true,
      messages: [{ role: "user", content: "[emulator words=10 delay=30]" }],
    }),
  });
  const body = res.text();
  await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGTERM");
  const text = await body;
  assert.ok(text.endsWith("data: [DONE]\n\n"), text);
  assert.ok(!text.includes('"error"'), "the in-flight stream finished cleanly");
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
});

test("NODE_ENV=production refuses to start without GEMINI_API_KEY", async () => {
  const { child, lines, ready } = start({ NODE_ENV: "production" });
  ready.catch(() => {});
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  assert.ok(lines.some((l) => l.includes("GEMINI_API_KEY")));
});

test("a bad setting stops start-up with one line naming the variable", async () => {
  const { child, lines, ready } = start({ PORT: "eighty" });
  ready.catch(() => {});
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  assert.match(lines.join("\n"), /^geminate: invalid configuration: PORT: /);
});

test("--help lists every setting, and so does README", async () => {
  const { settingNames } = await import("../src/config.ts");
  const child = spawn(process.execPath, [MAIN, "--help"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  for (const name of settingNames()) {
    assert.ok(out.includes(name), `--help lists ${name}`);
    assert.ok(readme.includes(`\`${name}\``), `README lists ${name}`);
  }
});

test("--config reads KEY=VALUE lines, and a bad value there stops start-up naming it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "geminate-"));
  const file = join(dir, "geminate.env");
  writeFileSync(file, "# settings\nGEMINATE_MAX_INFLIGHT=lots\n");
  const child = spawn(process.execPath, [MAIN, "--config", file], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  assert.match(err, /^geminate: invalid configuration: GEMINATE_MAX_INFLIGHT: /);
});

test("a stale code cache is ignored, and the run that ignored it writes a fresh one when it drains", async () => {
  const cache = join(OUT, "lib/geminate.cache");
  assert.ok(readFileSync(cache).length > 100_000, "the build made a code cache");
  writeFileSync(cache, "not a V8 code cache");
  const { child, ready } = start({});
  const port = await ready;
  const res = await fetch(`http://127.0.0.1:${port}/v1/models`);
  assert.equal(res.status, 200);
  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  assert.ok(readFileSync(cache).length > 100_000, "replaced after the drain");
});
