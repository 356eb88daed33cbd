import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/**
 * Connections the kernel may hold for accept() (it caps this at net.core.somaxconn, 4096 on
 * current kernels; Go's listeners ask for the same cap). Node's default, 511, overflowed when
 * 1,000 clients connected at once: the kernel dropped their SYNs and each retried a second
 * later, which put a full second on the slowest tenth of the burst.
 */
const LISTEN_BACKLOG = 65_535;

/** The HTTP/2 connection preface a prior-knowledge (h2c) client opens with (RFC 9113 §3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface OnePortOptions {
  /** A connection that sends nothing for this long is closed. */
  sniffTimeoutMs?: number;
  /** HTTP/2 streams one connection may have open (a mesh sidecar multiplexes many). */
  maxConcurrentStreams?: number;
  /** HTTP/2 session memory in MB; past it Node refuses new streams (ENHANCE_YOUR_CALM). */
  maxSessionMemoryMb?: number;
}

/**
 * One cleartext port for HTTP/1.1 and HTTP/2 with prior knowledge. Node cannot do both on one
 * cleartext socket, so each connection's first bytes are sniffed: the HTTP/2 preface goes to the
 * http2 server, anything else to the http server, both with the same handler.
 */
export class OnePortServer {
  readonly #tcp: net.Server;
  readonly #h1: http.Server;
  readonly #h2: http2.Http2Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();

  constructor(handler: Handler, options: OnePortOptions = {}) {
    const sniffTimeoutMs = options.sniffTimeoutMs ?? 10_000;
    this.#h1 = http.createServer(
      {
        // Above the 60 s idle timeout of common proxies, so the proxy closes first.
        keepAliveTimeout: 65_000,
        headersTimeout: 66_000,
        // Streams last as long as the model talks: no total request timeout.
        requestTimeout: 0,
      },
      handler,
    );
    // The http server never listens itself (connections come from the sniffer), but its
    // connection tracking (headersTimeout, requestTimeout, closeIdleConnections) starts on
    // 'listening'.
    this.#h1.emit("listening");
    this.#h2 = http2.createServer(
      {
        maxSessionMemory: options.maxSessionMemoryMb ?? 64,
        settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 1000 },
      },
      handler,
    );
    this.#h2.on("session", (session) => {
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
    });
    this.#tcp = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      this.#sniff(socket, sniffTimeoutMs);
    });
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#tcp.once("error", reject);
      this.#tcp.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        this.#tcp.off("error", reject);
        resolve(this.#tcp.address() as net.AddressInfo);
      });
    });
  }

  /** Open connections (sniffed or not). */
  get connections(): number {
    return this.#sockets.size;
  }

  /**
   * Stops accepting, sends GOAWAY to every HTTP/2 session and closes idle HTTP/1.1 connections;
   * resolves when every connection is gone or `graceMs` has passed, then destroys the rest.
   */
  async close(graceMs: number): Promise<void> {
    this.#tcp.close();
    this.#h1.close();
    this.#h1.closeIdleConnections();
    for (const session of this.#sessions) session.close();
    const deadline = Date.now() + graceMs;
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      this.#h1.closeIdleConnections();
    }
    for (const socket of this.#sockets) socket.destroy();
  }

  #sniff(socket: net.Socket, timeoutMs: number): void {
    let seen = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    const dispatch = (server: net.Server | http2.Http2Server) => {
      clearTimeout(timer);
      socket.off("readable", onReadable);
      socket.off("end", onEnd);
      socket.unshift(seen);
      server.emit("connection", socket);
    };
    const onReadable = () => {
      for (let chunk = socket.read(); chunk !== null; chunk = socket.read()) {
        seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
        const n = Math.min(seen.length, PREFACE.length);
        // Keep reading while the bytes could still be the preface: "P" alone may be "POST".
        if (!seen.subarray(0, n).equals(PREFACE.subarray(0, n))) return dispatch(this.#h1);
        if (seen.length >= PREFACE.length) return dispatch(this.#h2);
      }
    };
    const onEnd = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on("readable", onReadable);
    socket.once("end", onEnd);
    socket.on("error", () => socket.destroy());
  }
}
