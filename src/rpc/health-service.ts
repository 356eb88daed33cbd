import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/grpc/health/v1/health_pb.js";
import type { HealthState } from "./health-state.ts";

const response = (status: Status): HealthCheckResponse =>
  create(HealthCheckResponseSchema, { status });

/** grpc.health.v1.Health: Check, List and Watch over the one HealthState. */
export function healthService(state: HealthState) {
  return (router: ConnectRouter) =>
    router.service(Health, {
      check(request) {
        const status = state.status(request.service);
        if (status === undefined)
          throw new ConnectError(`unknown service '${request.service}'`, Code.NotFound);
        return response(status);
      },
      list() {
        return {
          statuses: Object.fromEntries(state.services.map((s) => [s, response(state.status(s)!)])),
        };
      },
      async *watch(request, ctx) {
        // The current status, then each change; an unknown service is SERVICE_UNKNOWN and the
        // stream stays open (it may appear). Once draining is announced the stream ends, so an
        // open Watch cannot hold a draining HTTP/2 session open.
        let wake: (() => void) | undefined;
        const unsubscribe = state.onChange(() => wake?.());
        const aborted = new Promise<void>((resolve) =>
          ctx.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        try {
          let last: Status | undefined;
          for (;;) {
            const status = state.status(request.service) ?? Status.SERVICE_UNKNOWN;
            if (status !== last) {
              yield response(status);
              last = status;
            }
            if (state.draining || ctx.signal.aborted) return;
            await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
          }
        } finally {
          unsubscribe();
        }
      },
    });
}
