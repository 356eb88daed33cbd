import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { GrpcReflection } from "grpc-js-reflection-client";
import { startReplayUpstream } from "../helpers/replay-upstream.ts";
import { fixture } from "../helpers/schemas.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// The standard gRPC plumbing internal callers and their tools expect: health, reflection,
// deadlines, keepalive, auth over metadata, with @grpc/grpc-js and a reflection client.

const CHAT_PROTO = fileURLToPath(new URL("../../proto/geminate/v1/chat.proto", import.meta.url));
const HEALTH_PROTO = fileURLToPath(
  new URL("../../proto/grpc/health/v1/health.proto", import.meta.url),
);

type Callback<T> = (err: grpc.ServiceError | null, res: T) => void;
interface HealthClient extends grpc.Client {
  Check(req: { service: string }, cb: Callback<{ status: string }>): void;
  Check(req: { service: string }, md: grpc.Metadata, cb: Callback<{ status: string }>): void;
  List(req: object, cb: Callback<{ statuses: Record<string, { status: string }> }>): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

/** A grpc-js ChatService client from the proto file, loaded as any team would. */
function chatClient<T extends grpc.Client>(url: string, options?: object): T {
  const def = protoLoader.loadSync(CHAT_PROTO, { enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    geminate: { v1: { ChatService: new (a: string, c: grpc.ChannelCredentials, o?: object) => T } };
  };
  return new pkg.geminate.v1.ChatService(
    url.replace("http://", ""),
    grpc.credentials.createInsecure(),
    options,
  );
}

function healthClient(url: string): HealthClient {
  const def = protoLoader.loadSync(HEALTH_PROTO, { enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: {
      health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } };
    };
  };
  return new pkg.grpc.health.v1.Health(
    url.replace("http://", ""),
    grpc.credentials.createInsecure(),
  );
}

const check = (client: HealthClient, service: string) =>
  new Promise<{ status?: string; code?: number }>((resolve) =>
    client.Check({ service }, (err, res) =>
      resolve(err ? { code: err.code } : { status: res.status }),
    ),
  );

describe("gRPC plumbing", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { GEMINATE_API_KEYS: "secret" } });
  });
  after(() => stack.close());

  test("health Check: overall, per service, liveness/readiness; unknown is NOT_FOUND; open without a key", async () => {
    const client = healthClient(stack.url);
    assert.deepEqual(await check(client, ""), { status: "SERVING" });
    assert.deepEqual(await check(client, "geminate.v1.ChatService"), { status: "SERVING" });
    assert.deepEqual(await check(client, "readiness"), { status: "SERVING" });
    assert.deepEqual(await check(client, "liveness"), { status: "SERVING" });
    assert.deepEqual(await check(client, "nope.Service"), { code: grpc.status.NOT_FOUND });
    const list = await new Promise<{ statuses: Record<string, { status: string }> }>(
      (resolve, reject) => client.List({}, (err, res) => (err ? reject(err) : resolve(res))),
    );
    assert.equal(list.statuses["geminate.v1.ChatService"]?.status, "SERVING");
    client.close();
  });

  test("reflection: a reflection client lists services and calls ChatService with no local proto", async () => {
    const reflection = new GrpcReflection(
      stack.url.replace("http://", ""),
      grpc.credentials.createInsecure(),
    );
    const services = await reflection.listServices();
    for (const s of [
      "geminate.v1.ChatService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]) {
      assert.ok(services.includes(s), s);
    }
    const methods = await reflection.listMethods("geminate.v1.ChatService");
    assert.deepEqual(methods.map((m) => m.name).sort(), [
      "Complete",
      "ListModels",
      "StreamComplete",
    ]);
    const descriptor = await reflection.getDescriptorBySymbol("geminate.v1.ChatService");
    const pkg = descriptor.getPackageObject({
      enums: String,
      defaults: true,
      longs: Number,
    }) as unknown as {
      geminate: {
        v1: {
          ChatService: new (
            a: string,
            c: grpc.ChannelCredentials,
          ) => grpc.Client & {
            Complete(
              req: object,
              md: grpc.Metadata,
              cb: Callback<{ choices: { message: { content: string } }[] }>,
            ): void;
          };
        };
      };
    };
    const chat = new pkg.geminate.v1.ChatService(
      stack.url.replace("http://", ""),
      grpc.credentials.createInsecure(),
    );
    const metadata = new grpc.Metadata();
    metadata.set("authorization", "Bearer secret");
    const res = await new Promise<{ choices: { message: { content: string } }[] }>(
      (resolve, reject) =>
        chat.Complete(
          {
            model: "gemini-2.5-flash",
            messages: [{ role: "ROLE_USER", content: [{ text: "via reflection" }] }],
          },
          metadata,
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
    );
    assert.equal(res.choices[0]!.message.content, "You said: via reflection");
    chat.close();
  });

  test("reflection by symbol (a method) and by file name, with comments kept", async () => {
    const reflection = new GrpcReflection(
      stack.url.replace("http://", ""),
      grpc.credentials.createInsecure(),
    );
    const byMethod = await reflection.getDescriptorBySymbol(
      "geminate.v1.ChatService.StreamComplete",
    );
    assert.ok(byMethod.getProtobufJsRoot().lookup("geminate.v1.CompletionChunk"));
    const byFile = await reflection.getDescriptorByFileName("grpc/health/v1/health.proto");
    assert.ok(byFile.getProtobufJsRoot().lookup("grpc.health.v1.Health"));
    const alpha = new GrpcReflection(
      stack.url.replace("http://", ""),
      grpc.credentials.createInsecure(),
      {},
      "v1alpha",
    );
    assert.ok((await alpha.listServices()).includes("geminate.v1.ChatService"));
  });

  test("ChatService needs the key in metadata; health and reflection do not", async () => {
    const client = chatClient<
      grpc.Client & { ListModels(r: object, md: grpc.Metadata, cb: Callback<unknown>): void }
    >(stack.url);
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.ListModels({}, new grpc.Metadata(), (e) => resolve(e!)),
    );
    assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    client.close();
  });
});

describe("deadlines, cancellation and keepalive over gRPC", () => {
  let upstream: Awaited<ReturnType<typeof startReplayUpstream>>;
  let stack: Stack;
  let client: grpc.Client & {
    StreamComplete(
      req: object,
      md?: grpc.Metadata,
      opts?: grpc.CallOptions,
    ): grpc.ClientReadableStream<{ choices: unknown[] }>;
  };
  before(async () => {
    stack = await startStack({ emulator: {} });
    upstream = await startReplayUpstream();
    client = chatClient<typeof client>(stack.url, {
      "grpc.keepalive_time_ms": 100,
      "grpc.keepalive_timeout_ms": 1_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
  });
  after(async () => {
    client.close();
    await stack.close();
    await upstream.close();
  });

  const request = (text: string) => ({
    model: "gemini-2.5-flash",
    messages: [{ role: "ROLE_USER", content: [{ text }] }],
  });
  const run = (stream: grpc.ClientReadableStream<{ choices: unknown[] }>) =>
    new Promise<{ frames: number; error?: grpc.ServiceError }>((resolve) => {
      let frames = 0;
      stream.on("data", () => frames++);
      stream.on("error", (error: grpc.ServiceError) => resolve({ frames, error }));
      stream.on("end", () => resolve({ frames }));
    });

  test("a deadline ends the call with DEADLINE_EXCEEDED and aborts the upstream stream", async () => {
    const started = Date.now();
    const result = await run(
      client.StreamComplete(request("[emulator words=1000 delay=20]"), new grpc.Metadata(), {
        deadline: Date.now() + 300,
      }),
    );
    assert.equal(result.error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(result.frames > 0);
    assert.ok(Date.now() - started < 2_000);
    for (let i = 0; i < 100 && stack.emulator!.stats.open > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(stack.emulator!.stats.open, 0);
  });

  test("the remaining deadline is passed to Gemini as x-server-timeout", async () => {
    const replay = await startStack({ upstreamUrl: upstream.url });
    try {
      upstream.reply({ body: fixture("stream-text.sse") });
      const c = chatClient<typeof client>(replay.url);
      const result = await run(
        c.StreamComplete(request("x"), new grpc.Metadata(), { deadline: Date.now() + 30_000 }),
      );
      assert.equal(result.error, undefined);
      const timeout = Number(upstream.requests.at(-1)!.headers["x-server-timeout"]);
      assert.ok(timeout > 25 && timeout <= 30, `x-server-timeout ${timeout}`);
      c.close();
    } finally {
      await replay.close();
    }
  });

  test("a long stream survives keepalive pings every 100 ms", async () => {
    const result = await run(client.StreamComplete(request("[emulator words=40 delay=20]")));
    assert.equal(result.error, undefined);
    assert.ok(result.frames >= 40);
  });
});
