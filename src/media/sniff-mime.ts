/** Leading bytes → MIME type, for the formats Gemini takes inline. Undefined when unknown. */
function sniffMime(bytes: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes[0] === 0x89 && ascii(1, 4) === "PNG") return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (ascii(0, 4) === "GIF8") return "image/gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") return "audio/wav";
  if (ascii(0, 5) === "%PDF-") return "application/pdf";
  if (ascii(0, 4) === "OggS") return "audio/ogg";
  if (ascii(0, 4) === "fLaC") return "audio/flac";
  if (ascii(0, 3) === "ID3" || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0))
    return "audio/mp3";
  if (ascii(0, 4) === "FORM" && ascii(8, 12) === "AIFF") return "audio/aiff";
  if (ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (["heic", "heix", "hevc", "heim", "heis"].includes(brand)) return "image/heic";
    if (brand === "mif1" || brand === "msf1") return "image/heif";
    if (brand.startsWith("M4A")) return "audio/aac";
    return "video/mp4";
  }
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3)
    return "video/webm";
  return undefined;
}

/** Types Gemini accepts inline, and whether their bytes must be recognisable. */
export function acceptedMime(mime: string): "sniffed" | "text" | undefined {
  if (/^(image|audio|video)\/[\w.+-]+$/.test(mime) || mime === "application/pdf") return "sniffed";
  if (/^text\/[\w.+-]+$/.test(mime) || mime === "application/json") return "text";
  return undefined;
}

/**
 * The type to send for bytes that claim `declared`: the declared type when the bytes agree with
 * its family, undefined when they do not (or cannot be recognised for a binary type).
 */
export function checkedMime(declared: string, bytes: Uint8Array): string | undefined {
  const kind = acceptedMime(declared);
  if (kind === "text") return declared;
  if (kind === undefined) return undefined;
  const sniffed = sniffMime(bytes);
  if (!sniffed) return undefined;
  // Families must agree (a PNG declared as image/jpeg is still an image: send what it is).
  const family = (m: string) => (m === "application/pdf" ? "pdf" : m.split("/")[0]);
  return family(sniffed) === family(declared) ? sniffed : undefined;
}
