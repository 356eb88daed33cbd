import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { sseData } from "./helpers/sse.ts";

// SIGTERM with streams in flight, in a real child process: health flips first, new calls are
// refused, short streams finish, long ones end with an error before the grace period is over,
// and the process exits 0.

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const PROTO = (p: string) => fileURLToPath(new URL(`../proto/${p}`, import.meta.url));

test("graceful shutdown drains HTTP/1.1, HTTP/2 and gRPC streams", async () => {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: "0",
      GEMINATE_SHUTDOWN_GRACE_MS: "1500",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const port = await new Promise<number>((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+).*serving OpenAI/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const address = `127.0.0.1:${port}`;
  const sse = (words: number, delay: number) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gemini-2.5-flash",
        stream: true,
        messages: [{ role: "user", content: `[emulator words=${words} delay=${delay}]` }],
      }),
    }).then((r) => r.text());

  const health = grpc.loadPackageDefinition(
    protoLoader.loadSync(PROTO("grpc/health/v1/health.proto"), { enums: String }),
  ) as unknown as {
    grpc: {
      health: {
        v1: {
          Health: new (
            a: string,
            c: grpc.ChannelCredentials,
          ) => grpc.Client & { Watch(r: object): grpc.ClientReadableStream<{ status: string }> };
        };
      };
    };
  };
  const healthClient = new health.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  const statuses: string[] = [];
  const watch = healthClient.Watch({ service: "" });
  watch.on("data", (r: { status: string }) => statuses.push(r.status));
  watch.on("error", () => {});

  const chat = grpc.loadPackageDefinition(
    protoLoader.loadSync(PROTO("geminate/v1/chat.proto"), { enums: String }),
  ) as unknown as {
    geminate: {
      v1: {
        ChatService: new (
          a: string,
          c: grpc.ChannelCredentials,
        ) => grpc.Client & { StreamComplete(r: object): grpc.ClientReadableStream<unknown> };
      };
    };
  };
  const chatClient = new chat.geminate.v1.ChatService(address, grpc.credentials.createInsecure());
  const grpcLong = new Promise<grpc.ServiceError | undefined>((resolve) => {
    const s = chatClient.StreamComplete({
      model: "gemini-2.5-flash",
      messages: [{ role: "ROLE_USER", content: [{ text: "[emulator words=1000 delay=20]" }] }],
    });
    s.on("data", () => {});
    s.on("error", resolve);
    s.on("end", () => resolve(undefined));
  });

  const short = sse(5, 60);
  const long = sse(1000, 20);
  await new Promise((r) => setTimeout(r, 150));
  const stoppedAt = Date.now();
  child.kill("SIGTERM");
  const exit = once(child, "exit");

  // New connections are refused at once.
  await new Promise((r) => setTimeout(r, 100));
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
  });
  assert.ok(refused, "new connections are refused while draining");

  const shortBody = await short;
  assert.ok(shortBody.endsWith("data: [DONE]\n\n"));
  assert.ok(
    !shortBody.includes('"error"'),
    "a stream that fits in the grace period finishes cleanly",
  );

  const longData = sseData(await long);
  assert.equal(longData.at(-1), "[DONE]");
  const error = JSON.parse(longData.at(-2)!) as { error: { message: string; type: string } };
  assert.equal(error.error.message, "the server is shutting down");

  const grpcError = await grpcLong;
  assert.equal(grpcError?.code, grpc.status.UNAVAILABLE);

  assert.deepEqual(statuses, ["SERVING", "NOT_SERVING"], "a health Watch sees the flip");

  const [code] = await exit;
  assert.equal(code, 0);
  const took = Date.now() - stoppedAt;
  assert.ok(took < 1500 + 1500, `exited ${took} ms after SIGTERM`);
  healthClient.close();
  chatClient.close();
});
