import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { startReplayUpstream } from "../helpers/replay-upstream.ts";
import { assertSchema, fixture } from "../helpers/schemas.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// With a key, the upstream's own model list (a recorded one here) joins the catalogue.

describe("model catalogue merged with the upstream's list", () => {
  let upstream: Awaited<ReturnType<typeof startReplayUpstream>>;
  let stack: Stack;
  let client: OpenAI;
  before(async () => {
    upstream = await startReplayUpstream({ models: fixture("models-list.json") });
    stack = await startStack({ upstreamUrl: upstream.url });
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await stack.close();
    await upstream.close();
  });

  test("/v1/models lists the table and the upstream's chat models, not its embedding models", async () => {
    let ids: string[] = [];
    for (let i = 0; i < 50 && !ids.includes("gemma-3-27b-it"); i++) {
      ids = (await client.models.list()).data.map((m) => m.id);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(ids.includes("gemma-3-27b-it"));
    assert.ok(ids.includes("gemini-2.5-flash-thinking"));
    assert.ok(ids.includes("gemini-2-5-flash-image"));
    assert.ok(!ids.includes("text-embedding-004"));
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    assertSchema("ListModelsResponse", await (await fetch(`${stack.url}/v1/models`)).json());
  });

  test("a model only the upstream lists can be used, and thinking suffixes work on it", async () => {
    upstream.reply({ contentType: "application/json", body: fixture("nonstream-text.json") });
    const completion = await client.chat.completions.create({
      model: "gemma-3-27b-it",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(completion.model, "gemma-3-27b-it");
    assert.match(upstream.requests.at(-1)!.path, /\/models\/gemma-3-27b-it:generateContent$/);
    upstream.reply({ contentType: "application/json", body: fixture("nonstream-text.json") });
    await client.chat.completions.create({
      model: "gemini-2.5-flash-preview-05-20-nothinking",
      messages: [{ role: "user", content: "hi" }],
    });
    const body = JSON.parse(upstream.requests.at(-1)!.body) as { generationConfig: unknown };
    assert.deepEqual(body.generationConfig, {
      thinkingConfig: { thinkingBudget: 0, includeThoughts: false },
    });
  });
});
