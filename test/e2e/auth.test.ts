import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import OpenAI from "openai";
import { ChatService } from "../../src/gen/geminate/v1/chat_pb.js";
import { assertSchema } from "../helpers/schemas.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// GEMINATE_API_KEYS set: every call needs one, over HTTP and over gRPC metadata.

describe("client keys", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { GEMINATE_API_KEYS: "key-one, key-two" } });
  });
  after(() => stack.close());

  test("the openai client with a valid key is served; a wrong or missing key is a 401", async () => {
    const good = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "key-two", maxRetries: 0 });
    const ok = await good.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(ok.choices[0]!.message.content, "You said: hi");
    const bad = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "key-three", maxRetries: 0 });
    await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
    const res = await fetch(`${stack.url}/v1/models`);
    assert.equal(res.status, 401);
    assertSchema("ErrorResponse", await res.json());
  });

  test("probes stay open", async () => {
    assert.equal((await fetch(`${stack.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${stack.url}/readyz`)).status, 200);
  });

  test("gRPC calls need the key in authorization metadata", async () => {
    const request = {
      model: "gemini-2.5-flash",
      messages: [{ role: 2, content: [{ part: { case: "text" as const, value: "hi" } }] }],
    };
    const anonymous = createClient(ChatService, createGrpcTransport({ baseUrl: stack.url }));
    const err = await anonymous.complete(request).catch((e: unknown) => e);
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Unauthenticated);
    const keyed = createClient(
      ChatService,
      createGrpcTransport({
        baseUrl: stack.url,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", "Bearer key-one");
            return next(req);
          },
        ],
      }),
    );
    const completion = await keyed.complete(request);
    assert.equal(completion.choices[0]!.message!.content, "You said: hi");
  });
});
