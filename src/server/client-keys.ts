import { createHash, timingSafeEqual } from "node:crypto";

/**
 * The client keys (`GEMINATE_API_KEYS`). Keys are kept as SHA-256 digests and compared in
 * constant time, every key every time, so neither timing nor the answer tells which part of a
 * presented key was wrong.
 */
export class ClientKeys {
  readonly #digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  /** No keys configured: every call is let in. */
  get open(): boolean {
    return this.#digests.length === 0;
  }

  /**
   * Which client presented the header: "key-<n>" for the n-th configured key, "anonymous" when
   * the gateway is open, undefined when the key is missing or wrong.
   */
  identify(authorization: string | null | undefined): string | undefined {
    if (this.open) return "anonymous";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    const presented = digest(match?.[1] ?? "");
    let found = -1;
    this.#digests.forEach((d, i) => {
      if (timingSafeEqual(d, presented)) found = i;
    });
    return found >= 0 && match ? `key-${found}` : undefined;
  }
}

function digest(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}
