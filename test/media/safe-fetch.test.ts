import assert from "node:assert/strict";
import type dns from "node:dns";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { FetchRefused, publicUnicastOnly, SafeFetch } from "../../src/media/safe-fetch.ts";

// SSRF defences on loopback: "public" hosts live on 127.0.0.2, "internal" ones on 127.0.0.3,
// a test policy allows exactly 127.0.0.2, and an injected resolver stands in for DNS.

describe("publicUnicastOnly", () => {
  const denied = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.100.100.200",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "168.63.129.16",
    "::1",
    "::",
    "fd00:ec2::254",
    "fe80::1",
    "::ffff:169.254.169.254",
    "::ffff:127.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
    "not-an-ip",
  ];
  for (const address of denied)
    test(`refuses ${address}`, () => assert.equal(publicUnicastOnly(address), false));
  for (const address of ["8.8.8.8", "142.250.74.46", "2a00:1450:4007:80e::200e"]) {
    test(`allows ${address}`, () => assert.equal(publicUnicastOnly(address), true));
  }
});

describe("SafeFetch", () => {
  const hits = { public: 0, internal: 0 };
  const seenHeaders: http.IncomingHttpHeaders[] = [];
  let publicServer: http.Server;
  let internalServer: http.Server;
  let port: number;

  const serve = (host: string, counter: "public" | "internal") =>
    new Promise<http.Server>((resolve) => {
      const server = http.createServer((req, res) => {
        hits[counter]++;
        seenHeaders.push(req.headers);
        const url = new URL(req.url ?? "/", "http://x");
        if (url.pathname === "/image") {
          res.writeHead(200, { "content-type": "image/png" });
          res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
        } else if (url.pathname === "/to-internal") {
          res.writeHead(302, { location: `http://127.0.0.3:${port}/image` });
          res.end();
        } else if (url.pathname.startsWith("/hop/")) {
          const n = Number(url.pathname.slice(5));
          res.writeHead(302, { location: `/hop/${n + 1}` });
          res.end();
        } else if (url.pathname === "/endless") {
          res.writeHead(200, { "content-type": "image/png" });
          const write = () => {
            while (res.write(Buffer.alloc(16_384))) {
              /* fill */
            }
          };
          res.on("drain", write);
          write();
        } else if (url.pathname === "/slow") {
          res.writeHead(200, { "content-type": "image/png" });
          res.write("\x89PNG");
        } else {
          res.writeHead(404);
          res.end();
        }
      });
      server.listen(port, host, () => resolve(server));
    });

  before(async () => {
    publicServer = await serve("127.0.0.2", "public");
    port = (publicServer.address() as AddressInfo).port;
    internalServer = await serve("127.0.0.3", "internal");
  });
  after(() => {
    publicServer.closeAllConnections();
    internalServer.closeAllConnections();
    publicServer.close();
    internalServer.close();
  });

  const table: Record<string, string> = {
    "public.test": "127.0.0.2",
    "internal.test": "127.0.0.3",
  };
  let rebindCount = 0;
  const lookup = ((
    hostname: string,
    _options: unknown,
    callback: (e: Error | null, a?: dns.LookupAddress[]) => void,
  ) => {
    if (hostname === "rebind.test") {
      // First answer public, then internal: a DNS-rebinding attacker.
      const address = rebindCount++ === 0 ? "127.0.0.2" : "127.0.0.3";
      return callback(null, [{ address, family: 4 }]);
    }
    const address = table[hostname];
    if (!address) return callback(Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" }));
    callback(null, [{ address, family: 4 }]);
  }) as unknown as typeof dns.lookup;

  const fetcher = (options: Partial<ConstructorParameters<typeof SafeFetch>[0]> = {}) =>
    new SafeFetch({
      policy: (ip) => ip === "127.0.0.2",
      lookup,
      maxBytes: 64 * 1024,
      timeoutMs: 1_000,
      maxRedirects: 5,
      ...options,
    });
  const signal = new AbortController().signal;

  test("fetches from an allowed host and sends no credentials", async () => {
    const f = fetcher();
    const got = await f.fetch(`http://public.test:${port}/image`, signal);
    assert.equal(got.contentType, "image/png");
    assert.equal(got.body[0], 0x89);
    const headers = seenHeaders.at(-1)!;
    assert.equal(headers.authorization, undefined);
    assert.equal(headers["x-goog-api-key"], undefined);
    await f.close();
  });

  test("refuses a host that resolves to a denied address, without connecting", async () => {
    const before = hits.internal;
    const f = fetcher();
    await assert.rejects(f.fetch(`http://internal.test:${port}/image`, signal), FetchRefused);
    assert.equal(hits.internal, before);
    await f.close();
  });

  test("refuses IP literals in every encoding the URL parser accepts", async () => {
    const f = fetcher();
    const before = hits.internal;
    for (const host of [
      "127.0.0.3",
      "0x7f.0.0.3",
      "2130706435",
      "0177.0.0.3",
      "[::ffff:127.0.0.3]",
    ]) {
      await assert.rejects(f.fetch(`http://${host}:${port}/image`, signal), FetchRefused, host);
    }
    assert.equal(hits.internal, before);
    await f.close();
  });

  test("DNS rebinding: the address is checked at connect time, not only at first look-up", async () => {
    const before = hits.internal;
    const f = fetcher();
    await f.fetch(`http://rebind.test:${port}/image`, signal);
    await f.close();
    // A fresh connection (new agent) resolves again and gets the internal address.
    const g = fetcher();
    await assert.rejects(g.fetch(`http://rebind.test:${port}/image`, signal), FetchRefused);
    assert.equal(hits.internal, before);
    await g.close();
  });

  test("a redirect to a denied address is refused", async () => {
    const before = hits.internal;
    const f = fetcher();
    await assert.rejects(f.fetch(`http://public.test:${port}/to-internal`, signal), FetchRefused);
    assert.equal(hits.internal, before);
    await f.close();
  });

  test("more than five redirects are refused", async () => {
    const f = fetcher();
    await assert.rejects(f.fetch(`http://public.test:${port}/hop/0`, signal), /redirects/);
    await f.close();
  });

  test("an endless body is cut at the size cap", async () => {
    const f = fetcher();
    await assert.rejects(f.fetch(`http://public.test:${port}/endless`, signal), /too large/);
    await f.close();
  });

  test("a body that never ends is cut at the deadline", async () => {
    const f = fetcher({ timeoutMs: 200 });
    const started = Date.now();
    await assert.rejects(f.fetch(`http://public.test:${port}/slow`, signal));
    assert.ok(Date.now() - started < 2_000);
    await f.close();
  });

  test("credentials in URLs, other schemes and other ports are refused", async () => {
    const f = fetcher({ ports: new Set([80, 443]) });
    await assert.rejects(f.fetch(`http://user:pw@public.test/image`, signal), FetchRefused);
    await assert.rejects(f.fetch(`file:///etc/passwd`, signal), FetchRefused);
    await assert.rejects(f.fetch(`http://public.test:${port}/image`, signal), FetchRefused);
    await f.close();
  });
});
