import dns from "node:dns";
import net from "node:net";
import ipaddr from "ipaddr.js";
import { Agent, buildConnector, type Dispatcher } from "undici";

/** Decides whether geminate may connect to an address (checked on every resolved IP). */
export type AddressPolicy = (address: string) => boolean;

/**
 * Public unicast only: loopback, private, link-local (cloud metadata), carrier-grade NAT,
 * multicast, reserved, IPv4-mapped and 6to4/NAT64 forms of those are all refused. Azure's
 * WireServer is classed unicast but is a metadata endpoint, so it is refused by name.
 */
export const publicUnicastOnly: AddressPolicy = (address) => {
  if (!ipaddr.isValid(address)) return false;
  const ip = ipaddr.process(address);
  if (ip.range() !== "unicast") return false;
  if (ip.kind() === "ipv6") {
    // Embedded IPv4 (NAT64 64:ff9b::/96, 6to4 2002::/16) must be public too.
    const v6 = ip as ipaddr.IPv6;
    const parts = v6.parts;
    if (parts[0] === 0x64 && parts[1] === 0xff9b) return false;
    if (parts[0] === 0x2002) return false;
  }
  return ip.toString() !== "168.63.129.16";
};

export const anyAddress: AddressPolicy = () => true;

type Lookup = typeof dns.lookup;

export interface SafeFetchOptions {
  policy: AddressPolicy;
  /** Ports URLs may name; undefined: any. */
  ports?: ReadonlySet<number>;
  /** Resolver (tests inject one; DNS otherwise). */
  lookup?: Lookup;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
}

/** Why a fetch was refused; never shown to clients (one generic error hides it). */
export class FetchRefused extends Error {
  override name = "FetchRefused";
}

/**
 * Fetches media URLs without becoming an SSRF proxy: http(s) only, no credentials in URLs, the
 * address policy applied to every resolved IP at connect time (so DNS rebinding cannot slip
 * in) and to IP literals, redirects followed by hand with the same checks on every hop, size
 * and time bounded while reading. No headers of ours (no keys) are ever sent.
 */
export class SafeFetch {
  readonly #options: SafeFetchOptions;
  readonly #agent: Agent;

  constructor(options: SafeFetchOptions) {
    this.#options = options;
    const { policy } = options;
    const lookup = options.lookup ?? dns.lookup;
    const checkedLookup = ((hostname: string, opts: dns.LookupOptions, callback: never) => {
      const cb = callback as (err: Error | null, address?: unknown, family?: number) => void;
      lookup(hostname, { ...opts, all: true }, (err, addresses) => {
        if (err) return cb(err);
        const list = addresses as dns.LookupAddress[];
        if (list.length === 0 || list.some((a) => !policy(a.address))) {
          return cb(new FetchRefused(`address of ${hostname} refused`));
        }
        if (opts.all) return cb(null, list);
        return cb(null, list[0]!.address, list[0]!.family);
      });
    }) as unknown as Lookup;
    const connect = buildConnector({
      timeout: 5_000,
      lookup: checkedLookup,
    } as buildConnector.BuildOptions);
    this.#agent = new Agent({
      connect(opts, callback) {
        const host = opts.hostname.replace(/^\[|\]$/g, "");
        if (net.isIP(host) && !policy(host)) {
          callback(new FetchRefused(`address ${host} refused`), null);
          return;
        }
        connect(opts, callback);
      },
    });
  }

  /** The body and content type of `url`, or a FetchRefused / network error. */
  async fetch(url: string, signal: AbortSignal): Promise<{ contentType: string; body: Buffer }> {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    let current = this.#check(url);
    for (let hop = 0; ; hop++) {
      const response = await this.#agent.request({
        origin: current.origin,
        path: `${current.pathname}${current.search}`,
        method: "GET",
        headers: {
          accept: "image/*, application/pdf, audio/*, video/*, text/*",
          "user-agent": "geminate",
        },
        signal: both,
      });
      if ([301, 302, 303, 307, 308].includes(response.statusCode)) {
        await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
        const location = response.headers.location;
        if (typeof location !== "string" || hop >= this.#options.maxRedirects) {
          throw new FetchRefused("too many redirects");
        }
        current = this.#check(new URL(location, current).toString());
        continue;
      }
      if (response.statusCode !== 200) {
        await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
        throw new FetchRefused(`status ${response.statusCode}`);
      }
      const type = response.headers["content-type"];
      return {
        contentType: typeof type === "string" ? type : "",
        body: await this.#read(response.body),
      };
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  #check(raw: string): URL {
    const url = new URL(raw);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new FetchRefused("scheme");
    if (url.username || url.password) throw new FetchRefused("credentials in URL");
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    if (this.#options.ports && !this.#options.ports.has(port)) throw new FetchRefused("port");
    return url;
  }

  async #read(body: Dispatcher.ResponseData["body"]): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > this.#options.maxBytes) {
        body.destroy();
        throw new FetchRefused("too large");
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks, size);
  }
}
