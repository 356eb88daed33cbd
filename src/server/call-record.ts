import { Code, ConnectError } from "@connectrpc/connect";
import type { Usage } from "../gen/geminate/v1/chat_pb.js";
import type { Logger } from "../logger.ts";

/** What one call did, filled in as it runs; one log line per call is made from it. */
export interface CallRecord {
  readonly id: string;
  readonly protocol: "openai" | "grpc" | "grpc-web" | "connect";
  readonly route: string;
  readonly started: number;
  /** The client key's name ("key-0", "anonymous"); never the key. */
  client?: string | undefined;
  model?: string;
  usage?: Usage | undefined;
  /** HTTP status for the OpenAI facade. */
  status?: number;
  error?: unknown;
  /** The caller left before the answer was complete. */
  cancelled?: boolean;
}

/**
 * The one line per call: protocol, route, model, status, duration and tokens. A caller that
 * leaves is a client cancel (info, 499), not a server error; upstream failures are warnings and
 * only our own bugs are errors. No prompt, answer or key is ever in it.
 */
export function logCall(logger: Logger, record: CallRecord): void {
  const error = record.error === undefined ? undefined : ConnectError.from(record.error);
  const code = record.cancelled ? Code.Canceled : error?.code;
  const line = {
    reqId: record.id,
    protocol: record.protocol,
    route: record.route,
    model: record.model,
    client: record.client,
    status: record.cancelled ? 499 : record.status,
    code: code === undefined ? "ok" : Code[code],
    durationMs: Math.round((performance.now() - record.started) * 10) / 10,
    promptTokens: record.usage?.promptTokens,
    completionTokens: record.usage?.completionTokens,
    ...(error && !record.cancelled && { error: error.rawMessage }),
  };
  if (code === Code.Internal || code === Code.DataLoss)
    logger.error({ ...line, err: record.error }, "call failed");
  else if (code === Code.Unknown || code === Code.Unavailable || code === Code.DeadlineExceeded) {
    logger.warn(line, "call failed upstream");
  } else logger.info(line, record.cancelled ? "call cancelled by the client" : "call");
}
