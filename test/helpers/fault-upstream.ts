import http from "node:http";
import type { AddressInfo } from "node:net";

/** What the fake Gemini does with the next generate call. */
export type Script =
  | { kind: "status"; status: number; body: object; headers?: Record<string, string> }
  | { kind: "reset" }
  | { kind: "stall" }
  | {
      kind: "stream";
      events: object[];
      delayMs?: number;
      /** After the events: end the body, hang, drop the connection, or append an error object. */
      after?: "end" | "stall" | "reset" | "error";
      /** Write the body this many bytes at a time, a millisecond apart (split characters). */
      bytesPerWrite?: number;
    };

export interface Seen {
  key: string | undefined;
  at: number;
}

/**
 * A scriptable fake Gemini on loopback (toxiproxy-style faults built in): each POST takes the
 * next script from the queue (the last one repeats). It records the key of every call and
 * whether each response's connection was closed, so tests can prove nothing was left open.
 */
export async function startFaultUpstream() {
  const queue: Script[] = [];
  const seen: Seen[] = [];
  const state = { open: 0, closed: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"models":[]}');
        return;
      }
      seen.push({ key: req.headers["x-goog-api-key"] as string | undefined, at: Date.now() });
      const script = queue.length > 1 ? queue.shift()! : queue[0]!;
      state.open++;
      res.once("close", () => {
        state.open--;
        state.closed++;
      });
      void play(script, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    /** Responses still open (a stalled one stays open until geminate lets go). */
    state,
    script(...scripts: Script[]) {
      queue.length = 0;
      queue.push(...scripts);
    },
    connections: () =>
      new Promise<number>((resolve) => server.getConnections((_, n) => resolve(n))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function play(script: Script, res: http.ServerResponse): Promise<void> {
  switch (script.kind) {
    case "status":
      res.writeHead(script.status, { "content-type": "application/json", ...script.headers });
      res.end(JSON.stringify(script.body));
      return;
    case "reset":
      res.socket?.destroy();
      return;
    case "stall":
      return;
    case "stream": {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const event of script.events) {
        if (script.delayMs) await new Promise((r) => setTimeout(r, script.delayMs));
        if (res.destroyed) return;
        const frame = Buffer.from(`data: ${JSON.stringify(event)}\r\n\r\n`);
        const step = script.bytesPerWrite ?? frame.length;
        for (let at = 0; at < frame.length && !res.destroyed; at += step) {
          if (at > 0) await new Promise((r) => setTimeout(r, 1));
          res.write(frame.subarray(at, at + step));
        }
      }
      if (script.after === "stall") return;
      if (script.after === "reset") {
        res.write("", () => res.socket?.destroy());
        return;
      }
      if (script.after === "error") {
        res.end(
          `${JSON.stringify({ error: { code: 500, message: "An internal error has occurred.", status: "INTERNAL" } }, null, 2)}\n`,
        );
        return;
      }
      res.end();
    }
  }
}

/** A text event, optionally the last one. */
export function textEvent(text: string, finish?: string): object {
  return {
    candidates: [
      {
        content: { parts: [{ text }], role: "model" },
        ...(finish && { finishReason: finish }),
        index: 0,
      },
    ],
    usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
  };
}
