import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Reply {
  status?: number;
  contentType?: string;
  body: Buffer | string;
}

/**
 * A loopback upstream that answers the next call with recorded bytes, exactly as captured, and
 * keeps what geminate sent it (path, headers, body).
 */
export async function startReplayUpstream(options: { models?: Buffer } = {}) {
  let next: Reply | undefined;
  const requests: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "GET" && req.url?.startsWith("/v1beta/models")) {
        res.writeHead(options.models ? 200 : 404, { "content-type": "application/json" });
        res.end(
          options.models ?? '{"error":{"code":404,"message":"no models","status":"NOT_FOUND"}}',
        );
        return;
      }
      requests.push({
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const reply = next ?? { status: 500, body: "no reply scripted" };
      res.writeHead(reply.status ?? 200, {
        "content-type": reply.contentType ?? "text/event-stream",
      });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    reply(r: Reply) {
      next = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
