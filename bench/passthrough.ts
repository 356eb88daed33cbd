import http from "node:http";
import { Pool } from "undici";

// The baseline for "what any Node gateway costs here": a minimal pass-through that forwards
// the Gemini request and pipes the answer back, translating and checking nothing.
const upstream = process.env.UPSTREAM_URL!;
const pool = new Pool(upstream, { connections: 20_000 });
http
  .createServer({ keepAliveTimeout: 65_000 }, async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      const answer = await pool.request({
        method: "POST",
        path: req.url ?? "/",
        headers: {
          "content-type": "application/json",
          "x-goog-api-key": String(req.headers["x-goog-api-key"] ?? ""),
        },
        body: Buffer.concat(chunks),
      });
      res.writeHead(answer.statusCode, {
        "content-type": String(answer.headers["content-type"] ?? ""),
      });
      for await (const c of answer.body)
        if (!res.write(c)) await new Promise((r) => res.once("drain", r));
      res.end();
    } catch {
      res.destroy();
    }
  })
  // The kernel's cap, as geminate asks for: Node's default (511) drops SYNs in a burst.
  .listen({ port: Number(process.env.PORT), host: "127.0.0.1", backlog: 65_535 });
