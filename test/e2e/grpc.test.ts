import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { type Stack, startStack } from "../helpers/stack.ts";

// @grpc/grpc-js, the reference gRPC client, over h2c on the same port as the OpenAI facade,
// loading the proto with proto-loader as any team would.

const PROTO = fileURLToPath(new URL("../../proto/geminate/v1/chat.proto", import.meta.url));

interface ChatClient extends grpc.Client {
  Complete(
    req: object,
    cb: (err: grpc.ServiceError | null, res: Completion) => void,
  ): grpc.ClientUnaryCall;
  StreamComplete(req: object, metadata?: grpc.Metadata): grpc.ClientReadableStream<Chunk>;
  ListModels(
    req: object,
    cb: (
      err: grpc.ServiceError | null,
      res: { models: { id: string; upstream: string }[] },
    ) => void,
  ): void;
}
interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}
interface Completion {
  id: string;
  model: string;
  choices: {
    index: number;
    message: { content: string; role: string };
    finishReason: string;
    nativeFinishReason: string;
  }[];
  usage: Usage;
}
interface Chunk {
  id: string;
  choices: { index: number; delta: { content: string; role: string }; finishReason: string }[];
  usage: Usage | null;
}

function loadClient(url: string): ChatClient {
  const definition = protoLoader.loadSync(PROTO, { defaults: true, enums: String, longs: Number });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    geminate: {
      v1: { ChatService: new (addr: string, creds: grpc.ChannelCredentials) => ChatClient };
    };
  };
  return new pkg.geminate.v1.ChatService(
    url.replace("http://", ""),
    grpc.credentials.createInsecure(),
  );
}

const request = (text: string, extra: object = {}) => ({
  model: "gemini-2.5-flash",
  messages: [{ role: "ROLE_USER", content: [{ text }] }],
  ...extra,
});

function collect(
  stream: grpc.ClientReadableStream<Chunk>,
): Promise<{ chunks: Chunk[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const chunks: Chunk[] = [];
    stream.on("data", (c: Chunk) => chunks.push(c));
    stream.on("error", (error: grpc.ServiceError) => resolve({ chunks, error }));
    stream.on("end", () => resolve({ chunks }));
  });
}

describe("ChatService over gRPC (@grpc/grpc-js, h2c, one port)", () => {
  let stack: Stack;
  let client: ChatClient;
  before(async () => {
    stack = await startStack();
    client = loadClient(stack.url);
  });
  after(async () => {
    client.close();
    await stack.close();
  });

  test("Complete returns the aggregated answer with usage", async () => {
    const res = await new Promise<Completion>((resolve, reject) =>
      client.Complete(request("over grpc", { temperature: 0.3, maxTokens: 50 }), (err, r) =>
        err ? reject(err) : resolve(r),
      ),
    );
    assert.match(res.id, /^chatcmpl-/);
    assert.equal(res.model, "gemini-2.5-flash");
    assert.equal(res.choices[0]!.message.content, "You said: over grpc");
    assert.equal(res.choices[0]!.message.role, "ROLE_ASSISTANT");
    assert.equal(res.choices[0]!.finishReason, "FINISH_REASON_STOP");
    assert.equal(res.choices[0]!.nativeFinishReason, "STOP");
    assert.equal(res.usage.completionTokens, 4);
    assert.deepEqual(
      (stack.emulator!.received.at(-1) as { generationConfig: unknown }).generationConfig,
      {
        temperature: 0.3,
        maxOutputTokens: 50,
      },
    );
  });

  test("StreamComplete sends the role first, deltas, one finish and usage last", async () => {
    const { chunks, error } = await collect(
      client.StreamComplete(request("[emulator words=7 chunk=3]")),
    );
    assert.equal(error, undefined);
    assert.equal(chunks[0]!.choices[0]!.delta.role, "ROLE_ASSISTANT");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, "the quick brown fox jumps over a");
    const finishes = chunks
      .flatMap((c) => c.choices.map((x) => x.finishReason))
      .filter((f) => f !== "FINISH_REASON_UNSPECIFIED");
    assert.deepEqual(finishes, ["FINISH_REASON_STOP"]);
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage!.completionTokens, 7);
  });

  test("usage also arrives in trailers, unary and streamed", async () => {
    const usageTrailers = (status: grpc.StatusObject) =>
      ["prompt", "completion", "total", "reasoning"].map((kind) =>
        Number(status.metadata.get(`geminate-usage-${kind}-tokens`)[0]),
      );
    const unary = await new Promise<grpc.StatusObject>((resolve) =>
      client.Complete(request("over grpc"), () => {}).on("status", resolve),
    );
    assert.deepEqual(usageTrailers(unary), [2, 4, 6, 0]);
    const stream = client.StreamComplete(request("[emulator words=7 chunk=3]"));
    const streamed = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    const { chunks } = await collect(stream);
    const usage = chunks.at(-1)!.usage!;
    assert.equal(usage.completionTokens, 7);
    assert.deepEqual(usageTrailers(await streamed), [
      usage.promptTokens,
      usage.completionTokens,
      usage.totalTokens,
      0,
    ]);
  });

  test("ListModels lists the catalogue with upstream names", async () => {
    const res = await new Promise<{ models: { id: string; upstream: string }[] }>(
      (resolve, reject) => client.ListModels({}, (err, r) => (err ? reject(err) : resolve(r))),
    );
    const image = res.models.find((m) => m.id === "gemini-2-5-flash-image");
    assert.equal(image?.upstream, "gemini-2.5-flash-image");
  });

  test("bad input is INVALID_ARGUMENT with the same message as over HTTP", async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.Complete(request("x", { temperature: 7 }), (e) => resolve(e!)),
    );
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, "temperature: must be between 0 and 2, got 7");
    const noRole = await new Promise<grpc.ServiceError>((resolve) =>
      client.Complete(
        { model: "gemini-2.5-flash", messages: [{ content: [{ text: "x" }] }] },
        (e) => resolve(e!),
      ),
    );
    assert.equal(noRole.code, grpc.status.INVALID_ARGUMENT);
    assert.match(noRole.details, /^messages\[0\]\.role/);
    const unknown = await new Promise<grpc.ServiceError>((resolve) =>
      client.Complete(request("x", { model: "gpt-4o" }), (e) => resolve(e!)),
    );
    assert.equal(unknown.code, grpc.status.NOT_FOUND);
  });

  test("upstream quota is RESOURCE_EXHAUSTED with retry-after in trailers", async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.Complete(request("[emulator fail=429]"), (e) => resolve(e!)),
    );
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.deepEqual(err.metadata.get("retry-after"), ["26"]);
  });

  test("a failure mid-stream ends the stream with a non-OK status, after the frames before it", async () => {
    for (const fail of ["midstream", "nofinish", "reset"]) {
      const { chunks, error } = await collect(
        client.StreamComplete(request(`[emulator fail=${fail} words=4]`)),
      );
      assert.ok(error, `${fail}: the stream must fail`);
      assert.equal(error.code, grpc.status.UNAVAILABLE, `${fail}: ${error.details}`);
      assert.ok(chunks.length >= 2, `${fail}: frames before the failure arrive`);
    }
  });

  test("cancelling the call aborts the upstream stream", async () => {
    const stream = client.StreamComplete(request("[emulator words=400 delay=5]"));
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    assert.equal(stack.emulator!.stats.open, 1);
    stream.on("error", () => {});
    stream.cancel();
    const deadline = Date.now() + 2_000;
    while (stack.emulator!.stats.open > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal(stack.emulator!.stats.open, 0, "the upstream stream was closed");
  });
});
