import { carriesToken } from "../core/frames.ts";
import { toConnectError } from "../core/gateway-error.ts";
import type { CompletionChunk, Usage } from "../gen/geminate/v1/chat_pb.js";
import { drained } from "../server/drained.ts";
import { TurnCork } from "../server/turn-cork.ts";
import type { PingClock } from "./ping-clock.ts";
import { ChunkRenderer } from "./render-chunk.ts";
import { renderError } from "./render-error.ts";
import { type NodeResponse, sendError } from "./send.ts";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** How a stream ended, for the request log. */
export type SseOutcome = "ok" | "failed" | "gone";

/**
 * Writes frames as OpenAI server-sent events. Headers wait for the first frame, so an error
 * before it (bad model, upstream 429) is an ordinary HTTP error; after it, an error becomes a
 * terminal `data: {"error":…}` event that the openai SDK raises, then `[DONE]`. The next frame
 * is pulled only once the socket has drained: a stalled client stalls the upstream read. After
 * half to one ping period of silence (before the first token too, committing the 200) a `: ping`
 * comment keeps idle-timeout proxies from cutting a thinking model off.
 */
export async function writeSse(
  res: NodeResponse,
  frames: AsyncIterator<CompletionChunk>,
  includeUsage: boolean,
  signal: AbortSignal,
  pings: PingClock,
): Promise<{ outcome: SseOutcome; error?: unknown; usage?: Usage; firstToken?: number }> {
  let headersSent = false;
  let usage: Usage | undefined;
  let firstToken: number | undefined;
  let wrote = true;
  // The client left (nothing more to write), as opposed to a failure or a shutdown, which the
  // client must be told about.
  let gone = false;
  const onClose = () => {
    gone = true;
  };
  res.on("close", onClose);
  const cork = new TurnCork(res);
  // A tick every half period: a ping when nothing was written since the last tick. The clock
  // is shared, so its first tick may come at once: it only starts the count (`wrote` starts
  // true).
  const tick = () => {
    if (wrote || gone) {
      wrote = false;
      return;
    }
    if (!headersSent) {
      res.writeHead(200, SSE_HEADERS);
      headersSent = true;
    }
    res.write(": ping\n\n");
  };
  pings.add(tick);
  try {
    const renderer = new ChunkRenderer(includeUsage);
    try {
      for (let next = await frames.next(); !next.done; next = await frames.next()) {
        if (!headersSent) {
          res.writeHead(200, SSE_HEADERS);
          headersSent = true;
        }
        if (next.value.usage) usage = next.value.usage;
        else if (firstToken === undefined && carriesToken(next.value))
          firstToken = performance.now();
        const json = renderer.render(next.value);
        if (json === undefined) continue;
        wrote = true;
        cork.hold();
        if (!res.write(`data: ${json}\n\n`)) await drained(res, signal);
      }
    } catch (err) {
      cork.release();
      if (gone) return { outcome: "gone", error: err, usage, firstToken };
      if (!headersSent) {
        sendError(res, toConnectError(err));
        return { outcome: "failed", error: err, usage, firstToken };
      }
      res.write(`data: ${JSON.stringify(renderError(toConnectError(err)).body)}\n\n`);
      res.end("data: [DONE]\n\n");
      return { outcome: "failed", error: err, usage, firstToken };
    }
    cork.release();
    if (gone) return { outcome: "gone", usage, firstToken };
    if (!headersSent) res.writeHead(200, SSE_HEADERS);
    res.end("data: [DONE]\n\n");
    return { outcome: "ok", usage, firstToken };
  } finally {
    pings.delete(tick);
    res.off("close", onClose);
  }
}
