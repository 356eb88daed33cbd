import { Code } from "@connectrpc/connect";
import { GatewayError, invalidArgument } from "../core/gateway-error.ts";
import type { Part } from "../gemini/wire.ts";
import { Detail, type Media } from "../gen/geminate/v1/chat_pb.js";
import { decodeBase64 } from "./decode-base64.ts";
import { FetchRefused, type SafeFetch } from "./safe-fetch.ts";
import { acceptedMime, checkedMime } from "./sniff-mime.ts";

export interface MediaLimits {
  /** Decoded inline bytes per request (data URLs, bytes and fetched files together). */
  readonly maxInlineBytes: number;
  /** URLs geminate fetches per request. */
  readonly maxFetches: number;
}

export const DEFAULT_MEDIA_LIMITS: MediaLimits = {
  maxInlineBytes: 64 * 1024 * 1024,
  maxFetches: 16,
};

const DETAIL_RESOLUTION = {
  [Detail.UNSPECIFIED]: undefined,
  [Detail.AUTO]: undefined,
  [Detail.LOW]: "MEDIA_RESOLUTION_LOW",
  [Detail.HIGH]: "MEDIA_RESOLUTION_HIGH",
} as const satisfies Record<Detail, string | undefined>;

/** File extensions of gs:// objects → MIME type (Gemini needs one for fileData). */
const EXTENSIONS: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  pdf: "application/pdf",
  wav: "audio/wav",
  mp3: "audio/mp3",
  flac: "audio/flac",
  ogg: "audio/ogg",
  mp4: "video/mp4",
  mov: "video/mov",
  webm: "video/webm",
  txt: "text/plain",
};

/** A data URL up to its payload, which decodeBase64 checks. */
const DATA_URL_HEAD = /^data:([\w.+-]+\/[\w.+-]+)((?:;[\w.+-]+=[^;,]*)*);base64,/;
const YOUTUBE = /^https:\/\/(?:www\.|m\.)?(?:youtube\.com\/(?:watch|shorts\/|live\/)|youtu\.be\/)/;
const GEMINI_FILES = /^https:\/\/generativelanguage\.googleapis\.com\/v1(?:beta)?\/files\//;

/**
 * Turns one request's media inputs into Gemini parts: data URLs and bytes inline (type checked
 * against the bytes), http(s) URLs fetched (SSRF-safe) and inlined, gs://, YouTube and Gemini
 * Files URLs passed as fileData. Created per request: it keeps that request's budget. Every
 * failure is a 400 naming the part; a failed fetch says nothing about why (no port scanning).
 */
export class MediaResolver {
  readonly #fetcher: SafeFetch;
  readonly #signal: AbortSignal;
  readonly #mediaResolution: boolean;
  /** Counts refusals for metrics (the client only ever sees one generic error). */
  readonly #onRefused: () => void;
  #inlineBytesLeft: number;
  #fetchesLeft: number;

  constructor(
    fetcher: SafeFetch,
    signal: AbortSignal,
    mediaResolution: boolean,
    onRefused: () => void = () => {},
    limits = DEFAULT_MEDIA_LIMITS,
  ) {
    this.#fetcher = fetcher;
    this.#onRefused = onRefused;
    this.#signal = signal;
    this.#mediaResolution = mediaResolution;
    this.#inlineBytesLeft = limits.maxInlineBytes;
    this.#fetchesLeft = limits.maxFetches;
  }

  async part(media: Media, param: string): Promise<Part> {
    const part = await this.#data(media, param);
    const level = DETAIL_RESOLUTION[media.detail];
    if (level && this.#mediaResolution) part.mediaResolution = { level };
    return part;
  }

  async #data(media: Media, param: string): Promise<Part> {
    const source = media.source;
    if (source.case === "data") {
      if (!media.mimeType)
        throw invalidArgument(`${param}.mime_type`, "is required with inline data");
      return this.#inline(media.mimeType, Buffer.from(source.value), param);
    }
    if (source.case !== "url" || source.value === "")
      throw invalidArgument(param, "a URL or data is required");
    const url = source.value;
    if (url.startsWith("data:")) {
      const head = DATA_URL_HEAD.exec(url);
      const base64 = head ? url.slice(head[0].length) : undefined;
      const bytes = base64 === undefined ? undefined : decodeBase64(base64);
      if (!head || !bytes) {
        throw invalidArgument(param, "is not a valid base64 data URL (data:<type>;base64,<data>)");
      }
      return this.#inline(head[1]!.toLowerCase(), bytes, param, base64);
    }
    if (url.startsWith("gs://")) {
      const ext = url.split(".").pop()?.toLowerCase() ?? "";
      const mimeType = media.mimeType || EXTENSIONS[ext];
      if (!mimeType)
        throw invalidArgument(param, "needs a MIME type: the gs:// object's type is unknown");
      return { fileData: { fileUri: url, mimeType } };
    }
    if (YOUTUBE.test(url)) return { fileData: { fileUri: url } };
    if (GEMINI_FILES.test(url)) {
      return { fileData: { fileUri: url, ...(media.mimeType && { mimeType: media.mimeType }) } };
    }
    if (!/^https?:\/\//i.test(url))
      throw invalidArgument(param, "must be an http(s), data: or gs:// URL");
    if (this.#fetchesLeft-- <= 0)
      throw invalidArgument(param, "too many URLs to fetch in one request");
    let fetched: { contentType: string; body: Buffer };
    try {
      fetched = await this.#fetcher.fetch(url, this.#signal);
    } catch (err) {
      if (this.#signal.aborted) throw err;
      this.#onRefused();
      throw new GatewayError(`${param}: the URL could not be fetched`, Code.InvalidArgument, {
        param,
        reason: "invalid_image_url",
        cause: err instanceof FetchRefused ? err : undefined,
      });
    }
    // Fetched bytes must be recognisably binary media: a web page is not an image.
    const declared = fetched.contentType.split(";")[0]!.trim().toLowerCase();
    const claimed = acceptedMime(declared) === "sniffed" ? declared : media.mimeType || "image/png";
    const mime =
      acceptedMime(claimed) === "sniffed" ? checkedMime(claimed, fetched.body) : undefined;
    if (!mime) throw invalidArgument(param, "the URL is not an image, document or audio file");
    return this.#inline(mime, fetched.body, param);
  }

  /** `base64`: the caller's own encoding of `bytes`, sent as is. */
  #inline(declared: string, bytes: Buffer, param: string, base64?: string): Part {
    if (bytes.length === 0) throw invalidArgument(param, "is empty");
    if (!acceptedMime(declared)) throw invalidArgument(param, `type ${declared} is not supported`);
    const mimeType = checkedMime(declared, bytes);
    if (!mimeType) throw invalidArgument(param, `the data is not ${declared}`);
    this.#inlineBytesLeft -= bytes.length;
    if (this.#inlineBytesLeft < 0) {
      throw new GatewayError(
        `${param}: the request's inline media exceed their size limit`,
        Code.InvalidArgument,
        {
          param,
          reason: "media_too_large",
        },
      );
    }
    return { inlineData: { mimeType, data: base64 ?? bytes.toString("base64") } };
  }
}
