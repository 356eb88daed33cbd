import { randomUUID } from "node:crypto";

/** The request id: the caller's `x-request-id` when it looks sane, else a fresh one. */
export function requestId(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[\w.:-]{1,128}$/.test(value) ? value : randomUUID();
}
