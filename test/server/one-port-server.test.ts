import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { OnePortServer } from "../../src/server/one-port-server.ts";

// One cleartext port, two protocols: each connection's first bytes decide.

describe("OnePortServer", () => {
  let server: OnePortServer;
  let port: number;
  before(async () => {
    server = new OnePortServer(
      (req, res) => {
        (res as http.ServerResponse).end(`HTTP/${req.httpVersion} ${req.method} ${req.url}`);
      },
      { sniffTimeoutMs: 200 },
    );
    port = (await server.listen(0, "127.0.0.1")).port;
  });
  after(() => server.close(100));

  test("HTTP/1.1 requests reach the handler", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/one`, { method: "POST", body: "x" });
    assert.equal(await res.text(), "HTTP/1.1 POST /one");
  });

  test("HTTP/2 with prior knowledge reaches the same handler", async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":path": "/two", ":method": "GET" });
        let text = "";
        stream.setEncoding("utf8");
        stream.on("data", (d: string) => {
          text += d;
        });
        stream.on("end", () => resolve(text));
        stream.on("error", reject);
      });
      assert.equal(body, "HTTP/2.0 GET /two");
    } finally {
      session.close();
    }
  });

  test("a preface split across many small writes is still recognised", async () => {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    for (const byte of preface) {
      socket.write(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 1));
    }
    // An HTTP/2 server answers the preface with its SETTINGS frame (type 0x4).
    const frame = await new Promise<Buffer>((resolve) => socket.once("data", resolve));
    assert.equal(frame[3], 0x04);
    socket.destroy();
  });

  test("HTTP/1.1 keep-alive serves several requests on one connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port, path, agent }, (res) => {
            let text = "";
            res.on("data", (d) => {
              text += d;
            });
            res.on("end", () => resolve(text));
          })
          .on("error", reject);
      });
    assert.equal(await get("/a"), "HTTP/1.1 GET /a");
    assert.equal(await get("/b"), "HTTP/1.1 GET /b");
    agent.destroy();
  });

  test("a connection that sends nothing is closed after the sniff timeout", async () => {
    const socket = net.connect(port, "127.0.0.1");
    const started = Date.now();
    await new Promise((r) => socket.once("close", r));
    assert.ok(Date.now() - started < 2_000);
  });
});
