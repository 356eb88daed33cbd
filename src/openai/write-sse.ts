import { toConnectError } from "../core/gateway-error.ts";
import type { CompletionChunk } from "../gen/geminate/v1/chat_pb.js";
import { ChunkRenderer } from "./render-chunk.ts";
import { renderError } from "./render-error.ts";
import { type NodeResponse, sendError } from "./send.ts";

/**
 * Writes frames as OpenAI server-sent events. Headers wait for the first frame, so an error
 * before it (bad model, upstream 429) is an ordinary HTTP error; after it, an error becomes a
 * terminal `data: {"error":…}` event that the openai SDK raises, then `[DONE]`. The next frame
 * is pulled only once the socket has drained: a stalled client stalls the upstream read.
 */
export async function writeSse(
  res: NodeResponse,
  frames: AsyncIterator<CompletionChunk>,
  includeUsage: boolean,
  signal: AbortSignal,
): Promise<void> {
  let next: IteratorResult<CompletionChunk>;
  try {
    next = await frames.next();
  } catch (err) {
    sendError(res, toConnectError(err));
    return;
  }
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
  const renderer = new ChunkRenderer(includeUsage);
  // The client left (nothing more to write) as opposed to a failure or a shutdown (which the
  // client must be told about).
  let gone = false;
  res.on("close", () => {
    gone = true;
  });
  try {
    while (!next.done) {
      const json = renderer.render(next.value);
      if (json !== undefined && !res.write(`data: ${json}\n\n`)) {
        await drained(res, signal);
      }
      next = await frames.next();
    }
  } catch (err) {
    if (gone) return;
    const { body } = renderError(toConnectError(err));
    res.write(`data: ${JSON.stringify(body)}\n\n`);
  }
  if (!gone) res.end("data: [DONE]\n\n");
}

/** Resolves on 'drain', or when the client is gone (`signal` aborts on close). */
function drained(res: NodeResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.on("drain", done);
    signal.addEventListener("abort", done);
    if (signal.aborted) done();
  });
}
