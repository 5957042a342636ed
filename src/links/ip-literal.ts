/**
 * Literal IP addresses in every notation a URL host can carry, parsed to numbers and printed in
 * one normal form. Browsers accept `http://2130706433/`, `http://0x7f.1/` and `http://0177.0.0.1/`
 * as 127.0.0.1, so both the canonicaliser and the address guard must see through them.
 * Pure logic: no I/O.
 */

export type IpVersion = 4 | 6;

export interface IpLiteral {
  version: IpVersion;
  /** Normal form: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`), no brackets. */
  address: string;
  /** IPv4 as an unsigned 32-bit integer (version 4 only). */
  ipv4?: number;
  /** IPv6 as eight 16-bit words (version 6 only). */
  words?: number[];
  /** IPv6 zone id (`fe80::1%eth0`), when present. */
  zone?: string;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const DIGITS: Readonly<Record<number, RegExp>> = { 8: /^[0-7]*$/, 10: /^[0-9]+$/, 16: /^[0-9a-f]*$/i };

function parseIPv4Part(part: string): number | null {
  // The WHATWG IPv4 number parser: `0x` means hex, another leading `0` octal; `0x` alone is 0.
  let radix = 10;
  let digits = part;
  if (/^0x/i.test(part)) {
    radix = 16;
    digits = part.slice(2);
  } else if (part.length > 1 && part.startsWith('0')) {
    radix = 8;
    digits = part.slice(1);
  }
  if (!DIGITS[radix]!.test(digits)) return null;
  // Leading zeros have no value (`0000000000001` is 1). Without them, more than 12 digits cannot
  // fit 32 bits in any base: refuse before Number() loses precision.
  const significant = digits.replace(/^0+/, '');
  if (significant.length > 12) return null;
  return significant === '' ? 0 : Number.parseInt(significant, radix);
}

/**
 * Parses an IPv4 address in any legal inet_aton notation: 1 to 4 parts, each decimal, octal
 * (leading 0) or hex (0x); the last part fills the remaining bytes (`127.1`, `2130706433`).
 * Returns the address as an unsigned 32-bit integer, or null when the text is not an IPv4 literal.
 */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    const value = parseIPv4Part(part);
    if (value === null) return null;
    values.push(value);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 255)) return null;
  const lastMax = 256 ** (4 - values.length);
  if (last >= lastMax) return null;
  let result = 0;
  for (const v of values) result = result * 256 + v;
  return result * lastMax + last;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Strict dotted quad (decimal, no leading zeros): the only IPv4 form allowed inside IPv6 text. */
function parseDottedQuad(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let result = 0;
  for (const part of parts) {
    if (!DECIMAL.test(part) || part.length > 3) return null;
    const v = Number(part);
    if (v > 255) return null;
    result = result * 256 + v;
  }
  return result;
}

/** Parses IPv6 text (no brackets, no zone) into eight 16-bit words, or null. */
export function parseIPv6(text: string): number[] | null {
  if (text.length === 0 || text.length > 45) return null;
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseDottedQuad(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tailV4 = [v4 >>> 16, v4 & 0xffff];
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::"; "a::1.2.3.4" leaves "a::"; "a:b:c:d:e:f:1.2.3.4" leaves "...f:".
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const groups = s.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0]!);
  if (left === null) return null;
  if (halves.length === 1) {
    const words = [...left, ...tailV4];
    return words.length === 8 ? words : null;
  }
  const right = parseGroups(halves[1]!);
  if (right === null) return null;
  const known = left.length + right.length + tailV4.length;
  if (known > 7) return null; // "::" stands for at least one zero group
  return [...left, ...new Array<number>(8 - known).fill(0), ...right, ...tailV4];
}

/** RFC 5952 text: lowercase hex, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatIPv6(words: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * Parses a literal IP in any notation: IPv4 in inet_aton forms, IPv6 with or without brackets and
 * with an optional zone id (`%eth0` or URL-encoded `%25eth0`). Returns null for anything else
 * (hostnames included).
 */
export function parseIpLiteral(text: string): IpLiteral | null {
  let host = text.trim();
  const bracketed = host.startsWith('[') && host.endsWith(']');
  if (bracketed) host = host.slice(1, -1);
  if (host.includes(':')) {
    let zone: string | undefined;
    const percent = host.indexOf('%');
    if (percent >= 0) {
      zone = host.slice(percent + 1).replace(/^25/, '');
      host = host.slice(0, percent);
      if (zone.length === 0) return null;
    }
    const words = parseIPv6(host);
    if (words === null) return null;
    const literal: IpLiteral = { version: 6, address: formatIPv6(words), words };
    if (zone !== undefined) literal.zone = zone;
    return literal;
  }
  if (bracketed) return null;
  const ipv4 = parseIPv4(host);
  if (ipv4 === null) return null;
  return { version: 4, address: formatIPv4(ipv4), ipv4 };
}
