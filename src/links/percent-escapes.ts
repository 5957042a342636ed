/**
 * Percent-escape handling for Safe Browsing canonicalisation. Works on "byte strings": JS strings
 * whose every char code is one byte (0-255), so that decoding `%80` never has to be valid UTF-8.
 * Pure logic: no I/O.
 */

/** The value of the hex digit with char code `code`, or -1. */
export function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

const PERCENT = 0x25;

/**
 * Percent-unescapes until no escape is left (`%252525` becomes `%`), in one left-to-right pass:
 * every decoded byte is pushed onto the output and, when the output then ends in `%XX`, those
 * three bytes are decoded in turn. This reaches the same fixed point as repeating full passes,
 * but in linear time, so a URL made of `%25` chains cannot cost quadratic work.
 * Invalid escapes (`%%`, `%zz`, a trailing `%`) are kept literally.
 */
export function unescapeRepeatedly(bytes: string): string {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    out.push(bytes.charCodeAt(i));
    for (;;) {
      const n = out.length;
      if (n < 3 || out[n - 3] !== PERCENT) break;
      const high = hexValue(out[n - 2]!);
      const low = hexValue(out[n - 1]!);
      if (high < 0 || low < 0) break;
      out.length = n - 3;
      out.push(high * 16 + low);
    }
  }
  let result = '';
  // Chunked so that very long inputs do not overflow the argument limit of fromCharCode.
  for (let i = 0; i < out.length; i += 8192) result += String.fromCharCode(...out.slice(i, i + 8192));
  return result;
}

/** The textbook definition, one full pass at a time; kept for tests of the fast version. */
export function unescapeRepeatedlyByPasses(bytes: string): string {
  let current = bytes;
  for (;;) {
    const next = current.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (next === current) return current;
    current = next;
  }
}

/** Escapes bytes <= 0x20, >= 0x7f, `#` and `%` as `%XX` with uppercase hex; the result is ASCII. */
export function escapeUnsafeBytes(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const code = bytes.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f || code === 0x23 || code === PERCENT) {
      out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    } else {
      out += bytes[i];
    }
  }
  return out;
}

/** UTF-8 bytes of a JS string, as a byte string. */
export function toByteString(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** A byte string as bytes. */
export function byteStringToBuffer(bytes: string): Buffer {
  return Buffer.from(bytes, 'latin1');
}
