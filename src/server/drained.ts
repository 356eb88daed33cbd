/** What `drained` needs of a response (HTTP/1.1 or HTTP/2, server or emulator). */
interface Writable {
  on(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
}

/**
 * Resolves when the response can take more writes, or will take none: it closed, or `signal`
 * (shutdown, deadline) aborted. The writer then looks at why before it writes again.
 */
export function drained(res: Writable, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
    signal?.addEventListener("abort", done);
    if (signal?.aborted) done();
  });
}
