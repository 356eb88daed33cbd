import http2 from "node:http2";
import { createInterface } from "node:readline";
import { Pool } from "undici";
import type { Target } from "./targets.ts";
import { targets } from "./targets.ts";

// The load generator, in its own process (pinned apart from the servers): one task per run,
// given as JSON on argv, results as JSON on stdout. Clocks are performance.now() in ms.

interface Task {
  kind:
    | "unary"
    | "capacity"
    | "ttft"
    | "paced"
    | "throughput"
    | "concurrent"
    | "slow"
    | "hold"
    | "rpc";
  urls: { emulator: string; geminate: string; portkey?: string };
  key: string;
  target: Target["name"];
  prompt: string;
  count?: number;
  concurrency?: number;
  /** capacity: the concurrency steps, run in turn, `seconds` each. */
  concurrencies?: number[];
  seconds?: number;
  bytesPerSecond?: number;
  protocol?: "grpc" | "connect";
  /** rpc over gRPC: the client library (connect-node's, or @grpc/grpc-js, the reference). */
  client?: "connect-node" | "grpc-js";
}

/** Runs one task against its own fresh connection pool, closed when the task is done. */
async function runTask(task: Task): Promise<unknown> {
  const target = targets(task.urls, task.key).find((t) => t.name === task.target)!;
  const pool = new Pool(target.origin, {
    connections: Math.max(1, task.concurrency ?? 1, ...(task.concurrencies ?? [])),
    pipelining: 1,
  });

  /** One call; for streams, the arrival time of each content event. */
  async function call(
    stream: boolean,
    onEvent?: (at: number) => void,
  ): Promise<{ ok: boolean; ms: number; bytes: number }> {
    const start = performance.now();
    const res = await pool.request({
      method: "POST",
      path: target.path(stream),
      headers: target.headers,
      body: target.body(task.prompt, stream),
    });
    let ok = res.statusCode === 200;
    let bytes = 0;
    if (!stream) {
      const text = await res.body.text();
      ok &&= text.length > 0;
    } else {
      // Lean on purpose: the generator must outrun what it measures (100k+ frames/s).
      let carry = "";
      for await (const chunk of res.body) {
        const now = performance.now();
        bytes += chunk.length;
        const text = carry + chunk.toString();
        let from = 0;
        for (let at = text.indexOf("data:", from); at !== -1; at = text.indexOf("data:", from)) {
          const end = text.indexOf("\n", at);
          if (end === -1) break;
          const line = text.slice(at, end);
          if (line.includes('"error"')) ok = false;
          else if (target.isContent(line)) onEvent?.(now);
          from = end + 1;
        }
        carry = text.slice(from);
      }
    }
    return { ok, ms: performance.now() - start, bytes };
  }

  async function main(): Promise<unknown> {
    // Each task has a fresh pool: warm its connections (and the JIT) first, unmeasured.
    if (task.kind === "unary" || task.kind === "ttft" || task.kind === "capacity") {
      for (let i = 0; i < 50; i++) await call(task.kind === "ttft");
    }
    switch (task.kind) {
      case "unary": {
        const latencies: number[] = [];
        for (let i = 0; i < task.count!; i++) latencies.push((await call(false)).ms);
        return { latencies };
      }
      case "capacity": {
        const steps = [];
        for (const concurrency of task.concurrencies!) {
          const latencies: number[] = [];
          let errors = 0;
          // The first 200 ms open this step's connections on both hops and are not counted.
          const from = performance.now() + 200;
          const until = from + task.seconds! * 1000;
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              while (performance.now() < until) {
                const started = performance.now();
                const r = await call(false).catch(() => ({ ok: false, ms: 0, bytes: 0 }));
                if (started < from) continue;
                if (r.ok) latencies.push(r.ms);
                else errors++;
              }
            }),
          );
          steps.push({
            concurrency,
            requests: latencies.length,
            errors,
            seconds: task.seconds,
            latencies: sample(latencies),
          });
        }
        return { steps };
      }
      case "ttft": {
        const ttft: number[] = [];
        for (let i = 0; i < task.count!; i++) {
          const start = performance.now();
          let first: number | undefined;
          await call(true, (at) => {
            first ??= at - start;
          });
          if (first !== undefined) ttft.push(first);
        }
        return { ttft };
      }
      case "paced":
      case "throughput": {
        const arrivals: number[] = [];
        const start = performance.now();
        const r = await call(true, (at) => arrivals.push(at));
        return {
          ok: r.ok,
          frames: arrivals.length,
          bytes: r.bytes,
          ms: performance.now() - start,
          arrivals: arrivals.map((a) => a - start),
        };
      }
      case "concurrent": {
        const ttft: number[] = [];
        let frames = 0;
        let errors = 0;
        await Promise.all(
          Array.from({ length: task.concurrency! }, async () => {
            const start = performance.now();
            let first: number | undefined;
            const r = await call(true, (at) => {
              frames++;
              first ??= at - start;
            }).catch(() => ({ ok: false, ms: 0, bytes: 0 }));
            if (!r.ok) errors++;
            if (first !== undefined) ttft.push(first);
          }),
        );
        return { frames, errors, ttft: sample(ttft) };
      }
      case "slow": {
        // Readers that take bytesPerSecond each, for `seconds`, then leave.
        let delivered = 0;
        await Promise.all(
          Array.from({ length: task.concurrency! }, async () => {
            const res = await pool.request({
              method: "POST",
              path: target.path(true),
              headers: target.headers,
              body: target.body(task.prompt, true),
            });
            const until = performance.now() + task.seconds! * 1000;
            let budget = 0;
            let last = performance.now();
            for await (const chunk of res.body) {
              delivered += chunk.length;
              budget -= chunk.length;
              const now = performance.now();
              budget += ((now - last) / 1000) * task.bytesPerSecond!;
              last = now;
              // Never sleep past the end (one read can be 64 KiB: 4 s of budget).
              if (budget < 0) {
                const ms = Math.min((-budget / task.bytesPerSecond!) * 1000, until - now);
                await new Promise((r) => setTimeout(r, Math.max(0, ms)));
              }
              if (performance.now() > until) break;
            }
            res.body.destroy();
          }),
        );
        return { delivered };
      }
      case "hold": {
        // Streams that stay quiet, over HTTP/2 (a sidecar's way: many streams, few connections),
        // reported once all are open; then wait to be killed.
        const perSession = 500;
        const sessions = Array.from({ length: Math.ceil(task.concurrency! / perSession) }, () =>
          http2.connect(target.origin),
        );
        let open = 0;
        for (let i = 0; i < task.concurrency!; i++) {
          const stream = sessions[Math.floor(i / perSession)]!.request({
            ":method": "POST",
            ":path": target.path(true),
            ...target.headers,
          });
          stream.on("response", () => {
            open++;
            if (open === task.concurrency) process.stdout.write(`${JSON.stringify({ open })}\n`);
          });
          stream.on("data", () => {});
          stream.on("error", () => {});
          stream.end(target.body(task.prompt, true));
        }
        await new Promise(() => {});
        return {};
      }
      case "rpc": {
        // Loaded only here: every other task starts faster without them.
        const { createClient } = await import("@connectrpc/connect");
        const { createConnectTransport, createGrpcTransport, Http2SessionManager } = await import(
          "@connectrpc/connect-node"
        );
        const { ChatService, Role } = await import("../src/gen/geminate/v1/chat_pb.js");
        // The task's own HTTP/2 session, closed when it is done (the generator runs on).
        const sessionManager = new Http2SessionManager(task.urls.geminate);
        const transport =
          task.protocol === "grpc"
            ? createGrpcTransport({ baseUrl: task.urls.geminate, sessionManager })
            : createConnectTransport({
                baseUrl: task.urls.geminate,
                httpVersion: "2",
                sessionManager,
              });
        const client = createClient(ChatService, transport);
        const request = {
          model: "gemini-2.5-flash",
          messages: [
            { role: Role.USER, content: [{ part: { case: "text" as const, value: task.prompt } }] },
          ],
        };
        let open: () => AsyncIterable<{ choices: { delta?: { content: string } }[] }> = () =>
          client.streamComplete(request);
        let closeGrpcJs = () => {};
        if (task.client === "grpc-js") {
          const grpc = await import("@grpc/grpc-js");
          const protoLoader = await import("@grpc/proto-loader");
          const definition = protoLoader.loadSync("proto/geminate/v1/chat.proto", {
            defaults: true,
            enums: String,
          });
          type Stub = new (
            address: string,
            credentials: unknown,
          ) => { streamComplete(r: object): AsyncIterable<never>; close(): void };
          const pkg = grpc.loadPackageDefinition(definition) as unknown as {
            geminate: { v1: { ChatService: Stub } };
          };
          const stub = new pkg.geminate.v1.ChatService(
            new URL(task.urls.geminate).host,
            grpc.credentials.createInsecure(),
          );
          // A grpc-js call is a Readable of plain objects, so it iterates like connect-node's.
          const plain = {
            model: request.model,
            messages: [{ role: "ROLE_USER", content: [{ text: task.prompt }] }],
          };
          open = () => stub.streamComplete(plain);
          closeGrpcJs = () => stub.close();
        }
        try {
          // Warmed like the SSE TTFT task (a rate run of one call is warmed by the caller).
          if (task.count! > 1) {
            for (let i = 0; i < 50; i++) for await (const _ of open());
          }
          const ttft: number[] = [];
          let frames = 0;
          const start = performance.now();
          for (let i = 0; i < task.count!; i++) {
            const s = performance.now();
            let first: number | undefined;
            for await (const f of open()) {
              if (f.choices[0]?.delta?.content) {
                frames++;
                first ??= performance.now() - s;
              }
            }
            if (first !== undefined) ttft.push(first);
          }
          return { ttft, frames, ms: performance.now() - start };
        } finally {
          sessionManager.abort();
          closeGrpcJs();
        }
      }
    }
  }

  try {
    return await main();
  } finally {
    await pool.destroy();
  }
}

/** At most 5,000 values, evenly taken, so results stay small. */
function sample(values: number[]): number[] {
  if (values.length <= 5000) return values;
  const step = values.length / 5000;
  return Array.from({ length: 5000 }, (_, i) => values[Math.floor(i * step)]!);
}

if (process.argv[2] === "--serve") {
  // Tasks as JSON lines on stdin, results as JSON lines on stdout, one at a time: starting a
  // process per task cost about 0.6 s here, a quarter of the quick run.
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const result = await runTask(JSON.parse(line) as Task);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
} else {
  const result = await runTask(JSON.parse(process.argv[2]!) as Task);
  // Exit only once the result is out: a pipe is written asynchronously.
  await new Promise<void>((resolve) =>
    process.stdout.write(`${JSON.stringify(result)}\n`, () => resolve()),
  );
  process.exit(0);
}
