import { ChatService } from "../gen/geminate/v1/chat_pb.js";
import { HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";

/**
 * Who is serving, for the gRPC health service and the HTTP probes. "" is the server as a
 * whole; "liveness" and "readiness" are the names Kubernetes gRPC probes ask for.
 */
export class HealthState {
  #draining = false;
  readonly #listeners = new Set<() => void>();

  /** Every service name the health service knows. */
  readonly services: readonly string[] = ["", "liveness", "readiness", ChatService.typeName];

  get draining(): boolean {
    return this.#draining;
  }

  /** The status of a known service, or undefined for an unknown one. */
  status(service: string): Status | undefined {
    if (!this.services.includes(service)) return undefined;
    if (service === "liveness") return Status.SERVING;
    return this.#draining ? Status.NOT_SERVING : Status.SERVING;
  }

  /** Draining starts: everything but liveness turns NOT_SERVING, and watchers hear of it. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` on every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
