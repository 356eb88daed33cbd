import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { startReplayUpstream } from "../helpers/replay-upstream.ts";
import { fixture } from "../helpers/schemas.ts";
import { post } from "../helpers/sse.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

// image_url with an http URL: geminate fetches and inlines it, and by default refuses private
// and loopback addresses with one generic error.

const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQImWNwav0CAALIAbzDqqRyAAAAAElFTkSuQmCC",
  "base64",
);

describe("fetching image URLs", () => {
  let images: http.Server;
  let imagesUrl: string;
  let hits = 0;
  let upstream: Awaited<ReturnType<typeof startReplayUpstream>>;
  before(async () => {
    images = http.createServer((req, res) => {
      hits++;
      if (req.url === "/cat.png") {
        res.writeHead(200, { "content-type": "image/png" });
        res.end(PNG);
      } else if (req.url === "/page") {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<html></html>");
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => images.listen(0, "127.0.0.1", r));
    imagesUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
    upstream = await startReplayUpstream();
  });
  after(async () => {
    images.closeAllConnections();
    images.close();
    await upstream.close();
  });

  const ask = (stack: Stack, url: string) => {
    upstream.reply({ contentType: "application/json", body: fixture("nonstream-text.json") });
    return post(`${stack.url}/v1/chat/completions`, {
      model: "gemini-2.5-flash",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is it?" },
            { type: "image_url", image_url: { url } },
          ],
        },
      ],
    });
  };

  test("by default a loopback URL is refused with a generic 400 and never fetched", async () => {
    const stack = await startStack({ upstreamUrl: upstream.url });
    try {
      const before = hits;
      const denied = await ask(stack, `${imagesUrl}/cat.png`);
      const closedPort = await ask(stack, "http://127.0.0.1:1/cat.png");
      assert.equal(denied.status, 400);
      assert.equal(hits, before, "no connection reached the private address");
      // Same answer whatever the reason, so the fetcher cannot be used to scan ports.
      assert.deepEqual(denied.json(), closedPort.json());
      assert.deepEqual(denied.json(), {
        error: {
          message: "messages[0].content[1]: the URL could not be fetched",
          type: "invalid_request_error",
          param: "messages[0].content[1]",
          code: "invalid_image_url",
        },
      });
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      assert.match(metrics, /^geminate_media_fetch_refusals_total 2$/m);
    } finally {
      await stack.close();
    }
  });

  test("with GEMINATE_FETCH_ALLOW_PRIVATE=true the image is fetched and inlined", async () => {
    const stack = await startStack({
      upstreamUrl: upstream.url,
      env: { GEMINATE_FETCH_ALLOW_PRIVATE: "true" },
    });
    try {
      const res = await ask(stack, `${imagesUrl}/cat.png`);
      assert.equal(res.status, 200, res.text);
      const body = JSON.parse(upstream.requests.at(-1)!.body) as {
        contents: { parts: unknown[] }[];
      };
      assert.deepEqual(body.contents[0]!.parts[1], {
        inlineData: { mimeType: "image/png", data: PNG.toString("base64") },
      });
      const page = await ask(stack, `${imagesUrl}/page`);
      assert.equal(page.status, 400);
      assert.equal(
        (page.json() as { error: { param: string } }).error.param,
        "messages[0].content[1]",
      );
    } finally {
      await stack.close();
    }
  });
});
