import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Pool } from "undici";
import { Exchange } from "../../src/gemini/exchange.ts";

// The upstream call's undici handler against a real HTTP server on loopback: what a caller of
// GeminiClient relies on when an answer is too large, or when it leaves mid-answer.

describe("Exchange", () => {
  let server: http.Server;
  let pool: Pool;
  /** Responses still open on the server side. */
  let open = 0;
  before(async () => {
    server = http.createServer((req, res) => {
      open++;
      res.once("close", () => open--);
      if (req.url === "/big") res.end("x".repeat(1000));
      else if (req.url === "/endless") {
        res.writeHead(200);
        const timer = setInterval(() => res.write("data: {}\n\n"), 5);
        res.once("close", () => clearInterval(timer));
      } else res.end("héllo wörld");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const get = (path: string, signal: AbortSignal, limit = 1 << 20) =>
    Exchange.send(pool, { method: "GET", path }, signal, limit);

  test("text() is the whole body, decoded once it has ended", async () => {
    const exchange = get("/small", new AbortController().signal);
    await exchange.started;
    assert.equal(exchange.statusCode, 200);
    assert.equal(await exchange.text(), "héllo wörld");
  });

  test("a body past the cap is refused as too large, not cut short", async () => {
    const exchange = get("/big", new AbortController().signal, 100);
    await exchange.started;
    await assert.rejects(exchange.text(), /too large/);
  });

  // The body never ends by itself: without the abort the test would wait forever.
  test("leaving mid-body fails the sink with the reason and closes the upstream response", {
    timeout: 5_000,
  }, async () => {
    const abort = new AbortController();
    const exchange = get("/endless", abort.signal);
    await exchange.started;
    const chunks: Buffer[] = [];
    const failed = new Promise<Error>((resolve, reject) =>
      exchange.pipe({
        data: (c) => chunks.push(c),
        end: () => reject(new Error("ended")),
        fail: resolve,
      }),
    );
    while (chunks.length < 3) await new Promise((r) => setTimeout(r, 5));
    const reason = new Error("client left");
    abort.abort(reason);
    assert.equal(await failed, reason);
    for (let i = 0; i < 100 && open > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(open, 0, "the server saw the request go");
  });

  test("an exchange whose caller left before it was sent never starts", async () => {
    const abort = new AbortController();
    abort.abort(new Error("gone before sending"));
    await assert.rejects(get("/small", abort.signal).started, /gone before sending/);
  });
});
