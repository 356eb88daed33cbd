import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { ChatService, FinishReason, Role } from "../../src/gen/geminate/v1/chat_pb.js";
import { encodeGrpcMessage } from "../../src/rpc/spec-grpc-message.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// The Connect client from @connectrpc/connect-node, over every protocol and HTTP version the
// one port serves.

describe("ChatService over Connect, gRPC-Web and gRPC with the connect-node client", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  const transports: [string, (url: string) => Transport][] = [
    [
      "Connect JSON over HTTP/1.1",
      (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    ],
    [
      "Connect binary over HTTP/2",
      (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }),
    ],
    [
      "gRPC-Web over HTTP/1.1",
      (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    ],
    ["gRPC-Web over HTTP/2", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2" })],
    ["gRPC over HTTP/2", (baseUrl) => createGrpcTransport({ baseUrl })],
  ];

  for (const [name, makeTransport] of transports) {
    test(name, async () => {
      const client = createClient(ChatService, makeTransport(stack.url));
      const request = {
        model: "gemini-2.5-flash",
        messages: [
          {
            role: Role.USER,
            content: [{ part: { case: "text" as const, value: "[emulator words=5 chunk=2]" } }],
          },
        ],
      };
      const completion = await client.complete(request);
      assert.equal(completion.choices[0]!.message!.content, "the quick brown fox jumps");
      assert.equal(completion.choices[0]!.finishReason, FinishReason.STOP);

      const frames = [];
      for await (const frame of client.streamComplete(request)) frames.push(frame);
      assert.equal(frames[0]!.choices[0]!.delta!.role, Role.ASSISTANT);
      assert.equal(
        frames.map((f) => f.choices[0]?.delta?.content ?? "").join(""),
        "the quick brown fox jumps",
      );
      assert.equal(frames.at(-1)!.usage!.completionTokens, 5);

      const failing = client.streamComplete({
        ...request,
        messages: [
          {
            role: Role.USER,
            content: [{ part: { case: "text", value: "[emulator fail=midstream words=3]" } }],
          },
        ],
      });
      const err = await (async () => {
        for await (const _ of failing) {
          // drain until the failure
        }
      })().catch((e: unknown) => e);
      assert.ok(err instanceof ConnectError, "a failed stream ends with an error status");
      assert.equal(err.code, Code.Unavailable);

      const bad = await client.complete({ ...request, topP: 2 }).catch((e: unknown) => e);
      assert.ok(bad instanceof ConnectError);
      assert.equal(bad.code, Code.InvalidArgument);
      assert.equal(bad.rawMessage, "top_p: must be between 0 and 1, got 2");
    });
  }

  test("grpc-message is encoded as the gRPC spec asks, so every decoder reads it back", () => {
    assert.equal(encodeGrpcMessage("a: b, c/d"), "a: b, c/d");
    assert.equal(encodeGrpcMessage("100% é\n"), "100%25 %C3%A9%0A");
    assert.equal(decodeURIComponent(encodeGrpcMessage("naïve: 5%")), "naïve: 5%");
  });
});
