import { domainToASCII } from 'node:url';
import { ScanError } from '../errors.js';
import { unwrapBrowserLink } from './browser-links.js';
import { stripAsUrlParser } from './url-parser-strip.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip-literal.js';
import { byteStringToBuffer, escapeUnsafeBytes, hexValue, toByteString, unescapeRepeatedly } from './percent-escapes.js';

/**
 * URL canonicalisation exactly as Google Safe Browsing specifies it ("URLs and Hashing", v4), so
 * that our hashes match the hashes of every list built the same way. The canonical form is for
 * MATCHING only: it drops the port and userinfo, and it percent-unescapes before parsing, so it
 * can differ from the URL a browser would fetch. The unfurler fetches the original URL, and
 * canonicalizeParsed gives the canonical form of what it (or a browser) actually reaches.
 *
 * Choices the documentation leaves open, made here:
 * - Input without a scheme gets `http://` (the documentation's own examples do this).
 * - Schemes without an authority (`javascript:`, `data:`, `mailto:`, `about:`, `blob:`) and `file:`
 *   throw ScanError('unsupported_scheme') with `detail.scheme`, so a caller can flag them without
 *   any fetch. Other schemes with an authority (`ftp://`, `ws://`) are canonicalised like http.
 * - IPv6 follows the newer Safe Browsing reference: compressed form in brackets, and IPv4-mapped
 *   (`[::ffff:1.2.3.4]`) or NAT64 (`[64:ff9b::1.2.3.4]`) addresses become the IPv4 address.
 * - Raw control characters other than tab/CR/LF are refused (invalid_url) by default, as list
 *   entries are: no browser produces them and they usually mean a corrupted input. A link to scan
 *   uses `controlCharacters: 'escape'`, the documentation's behaviour (`http://\x01\x80.com/` ->
 *   `http://%01%80.com/`), as browsers percent-encode them too: one byte must not take a link
 *   out of list matching.
 * - A browser wrapper link (`x-safari-https://host/path`, `googlechromes://host/path`,
 *   `microsoft-edge:https://host/path`: see browser-links.ts) is canonicalised as the http(s) URL
 *   it opens; only `input` keeps the link as given.
 * - A port may have leading zeros, as browsers read it (`:000080` is 80, the default of http).
 * - For http/https, a raw `\` before the query is read as `/`, as browsers do, so that
 *   `http://evil.com\@good.com/` names the host a browser would visit. A `\` decoded from `%5C`
 *   stays in the path (Safe Browsing escapes no backslash), so canonicalising such a canonical
 *   form again reads it as `/`: the only input for which the canonical form is not a fixed point.
 */

/**
 * Default input limit, in characters: UTF-16 code units of a string (what a job's URL limit
 * counts, so any link a job accepts is canonicalised), bytes of byte input. 8 KiB is the
 * request-line limit of common servers (Apache 8190, nginx 8k buffers): a longer URL cannot be
 * fetched anyway (a fetched URL, a WHATWG href, is ASCII: its characters are its bytes), and the
 * bound keeps the work per URL small (a UTF-16 code unit is at most 3 UTF-8 bytes).
 *
 * The limit is on the input, not on the canonical form: that percent-escapes every non-ASCII
 * byte, so `ж` (1 character, 2 bytes) becomes `%D0%B6` (6 characters), and a browser's href of a
 * link does the same. A caller that derives a URL from a link (the href a browser visits, a
 * redirect target) may find it over the limit when the link itself was not: the link preparer
 * then matches it cut to its host and path prefixes.
 */
export const DEFAULT_MAX_URL_LENGTH = 8192;

export interface CanonicalizeOptions {
  /**
   * Longest accepted input in characters (UTF-16 code units of a string, bytes of byte input);
   * longer input throws url_too_long. Default 8192.
   */
  maxLength?: number;
  /** What to do with raw control characters other than tab/CR/LF. Default 'reject' (invalid_url). */
  controlCharacters?: 'reject' | 'escape';
}

export interface CanonicalUrl {
  /** The input as given (byte input is shown as Latin-1). */
  input: string;
  /** `scheme://host/path?query`, ASCII only, port and userinfo dropped. */
  canonical: string;
  /** Lowercase scheme without `:`. */
  scheme: string;
  /** Canonical host: lowercase, punycode, dotted-quad IPv4 or `[ipv6]`, percent-escaped. */
  host: string;
  /** Explicit port when it is not the scheme's default (never part of `canonical`). */
  port?: number;
  /** Canonical path, always starting with `/`. */
  path: string;
  /** Query without `?`; '' when the URL ends in `?`; absent when there is no `?`. */
  query?: string;
  hostIsIp: boolean;
  /** True when the URL carried `user:password@` (phishing uses `http://good.com@evil.com/`). */
  hadUserinfo: boolean;
}

const AUTHORITYLESS_SCHEMES = new Set(['javascript', 'data', 'mailto', 'about', 'blob', 'tel', 'sms', 'vbscript', 'urn', 'news']);
const REFUSED_HIERARCHICAL_SCHEMES = new Set(['file']);
const SPECIAL_SCHEMES = new Set(['http', 'https']);
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ftp: 21, ws: 80, wss: 443 };
const SCHEME_PREFIX = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

function invalid(message: string, detail?: Record<string, unknown>): ScanError {
  return new ScanError('invalid_url', message, detail);
}

/** Splits off the scheme; returns the rest starting at the authority. */
function splitScheme(url: string): { scheme: string; rest: string } {
  const match = SCHEME_PREFIX.exec(url);
  if (match) {
    const scheme = match[1]!.toLowerCase();
    const after = url.slice(match[0].length);
    if (SPECIAL_SCHEMES.has(scheme)) return { scheme, rest: after.replace(/^[/\\]+/, '') };
    if (after.startsWith('//')) {
      if (REFUSED_HIERARCHICAL_SCHEMES.has(scheme)) throw new ScanError('unsupported_scheme', `${scheme}: URLs are not checked`, { scheme });
      return { scheme, rest: after.slice(2) };
    }
    // An Android intent link without `//` (`intent:#Intent;...;end`) names an app, never a host and port.
    if (scheme === 'intent') return { scheme, rest: after };
    // "host:8080/x" looks like a scheme but is a host and port.
    if (AUTHORITYLESS_SCHEMES.has(scheme) || !/^\d*(?:[/?\\]|$)/.test(after)) {
      throw new ScanError('unsupported_scheme', `${scheme}: URLs have no host to check`, { scheme });
    }
  }
  return { scheme: 'http', rest: url.replace(/^\/\//, '') };
}

function splitPort(hostPort: string, scheme: string): { host: string; port?: number } {
  let host = hostPort;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw new ScanError('invalid_host', 'unterminated IPv6 literal');
    host = hostPort.slice(0, close + 1);
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw new ScanError('invalid_host', 'text after an IPv6 literal');
      portText = after.slice(1);
    }
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      portText = hostPort.slice(colon + 1);
    }
  }
  if (portText === undefined || portText === '') return { host };
  // Leading zeros do not count, as browsers read a port (WHATWG URL): `:000080` is port 80.
  const digits = /^\d+$/.test(portText) ? portText.replace(/^0+(?=\d)/, '') : '';
  if (digits === '' || digits.length > 5 || Number(digits) > 65535) throw invalid('the port is not a number from 0 to 65535');
  const port = Number(digits);
  return port === DEFAULT_PORTS[scheme] ? { host } : { host, port };
}

function canonicalIPv6(bracketed: string): { host: string; hostIsIp: true } {
  const inner = bracketed.slice(1, -1);
  // A zone id names an interface of the machine doing the lookup: never meaningful in a shared URL.
  if (inner.includes('%')) throw new ScanError('invalid_host', 'IPv6 zone ids are not accepted', { host: inner });
  const words = parseIPv6(inner);
  if (words === null) throw new ScanError('invalid_host', 'not a valid IPv6 address', { host: inner });
  const prefixIsZero = (n: number) => words.slice(0, n).every((w) => w === 0);
  const mapped = prefixIsZero(5) && words[5] === 0xffff;
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0);
  if (mapped || nat64) return { host: formatIPv4(words[6]! * 0x10000 + words[7]!), hostIsIp: true };
  return { host: `[${formatIPv6(words)}]`, hostIsIp: true };
}

function decodesAsUtf8(bytes: string): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(byteStringToBuffer(bytes));
  } catch {
    return null;
  }
}

/** WHATWG URL's forbidden domain code points: C0 controls, space, DEL and # % / : < > ? @ [ \\ ] ^ |. */
const FORBIDDEN_DOMAIN_CODE_POINT = /[\x00-\x20\x7f#%/:<>?@[\\\]^|]/;

/** Host rules: IDN to punycode, trim and collapse dots, lowercase, any IPv4 notation to a dotted quad. */
function canonicalHost(rawHost: string): { host: string; hostIsIp: boolean } {
  if (rawHost.startsWith('[') && rawHost.endsWith(']')) return canonicalIPv6(rawHost);
  let host = rawHost;
  if (/[^\x00-\x7f]/.test(host)) {
    const unicode = decodesAsUtf8(host);
    // domainToASCII applies UTS #46 (fullwidth dots and digits included); '' means not a domain.
    // It parses its input as a URL host, so a '#', '/' or '?' would cut the name short: a host
    // holding any forbidden domain code point is not a domain and keeps its escaped bytes.
    const ascii = unicode === null || FORBIDDEN_DOMAIN_CODE_POINT.test(unicode) ? '' : domainToASCII(unicode);
    if (ascii !== '') host = ascii;
  }
  host = host.replace(/^\.+|\.+$/g, '').replace(/\.{2,}/g, '.');
  host = host.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  if (host === '') throw new ScanError('invalid_host', 'the URL has no host');
  // A colon or bracket left after the port split is a malformed IPv6 literal; a backslash (from
  // %5C) is a forbidden host code point that browsers refuse.
  if (/[:[\]\\]/.test(host)) throw new ScanError('invalid_host', 'the host contains ":", "[", "]" or "\\"', { host: escapeUnsafeBytes(host) });
  const ipv4 = parseIPv4(host);
  if (ipv4 !== null) return { host: formatIPv4(ipv4), hostIsIp: true };
  return { host: escapeUnsafeBytes(host), hostIsIp: false };
}

/** Resolves `.` and `..` segments and collapses runs of slashes; keeps a trailing slash. */
export function canonicalPath(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  const last = segments[segments.length - 1];
  const trailingSlash = last === '' || last === '.' || last === '..';
  if (out.length === 0) return '/';
  return `/${out.join('/')}${trailingSlash ? '/' : ''}`;
}

/**
 * Canonicalises a URL by the Safe Browsing rules. Throws ScanError: invalid_url (empty, bad port,
 * raw control characters), url_too_long, invalid_host (no host, IPv6 zone id, bad IPv6),
 * unsupported_scheme (no authority, or file:). Byte input is taken as raw URL bytes.
 */
export function canonicalize(input: string | Uint8Array, options?: CanonicalizeOptions): CanonicalUrl {
  const maxLength = options?.maxLength ?? DEFAULT_MAX_URL_LENGTH;
  if (typeof input === 'string' && input.length <= maxLength) {
    const fast = canonicalizeCommon(input);
    if (fast !== undefined) return fast;
  }
  const inputText = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  // Characters of the input (a byte of byte input is one Latin-1 character): the unit of a job's limit.
  if (inputText.length > maxLength) throw new ScanError('url_too_long', undefined, { length: inputText.length, maxLength });
  // A browser wrapper (`x-safari-https://...`, `microsoft-edge:https://...`) is the URL it opens.
  const opened = unwrapBrowserLink(inputText);
  if (opened !== undefined) return { ...canonicalize(typeof input === 'string' ? opened : Buffer.from(opened, 'latin1'), options), input: inputText };
  let url = typeof input === 'string' ? toByteString(input) : inputText;

  url = stripAsUrlParser(url);
  if (url === '') throw invalid('the URL is empty');
  const fragment = url.indexOf('#');
  if (fragment >= 0) url = url.slice(0, fragment);
  if ((options?.controlCharacters ?? 'reject') === 'reject' && /[\x00-\x1f\x7f]/.test(url)) {
    throw invalid('the URL contains control characters');
  }

  const { scheme, rest: rawRest } = splitScheme(url);
  let rest = rawRest;
  if (SPECIAL_SCHEMES.has(scheme)) {
    const query = rest.indexOf('?');
    const beforeQuery = query < 0 ? rest : rest.slice(0, query);
    rest = beforeQuery.replaceAll('\\', '/') + (query < 0 ? '' : rest.slice(query));
  }
  rest = unescapeRepeatedly(rest);

  const authorityEnd = rest.search(/[/?]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const pathAndQuery = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  const hadUserinfo = at >= 0;
  const { host: rawHost, port } = splitPort(authority.slice(at + 1), scheme);
  const { host, hostIsIp } = canonicalHost(rawHost);

  const questionMark = pathAndQuery.indexOf('?');
  const rawPath = questionMark < 0 ? pathAndQuery : pathAndQuery.slice(0, questionMark);
  const path = escapeUnsafeBytes(canonicalPath(rawPath));
  const query = questionMark < 0 ? undefined : escapeUnsafeBytes(pathAndQuery.slice(questionMark + 1));

  const canonical = `${scheme}://${host}${path}${query === undefined ? '' : `?${query}`}`;
  const result: CanonicalUrl = { input: inputText, canonical, scheme, host, path, hostIsIp, hadUserinfo };
  if (port !== undefined) result.port = port;
  if (query !== undefined) result.query = query;
  return result;
}

/**
 * `text` as a browser (and undici) reads it: WHATWG-parsed, fragment dropped; null when WHATWG
 * refuses it. Read the way canonicalize reads it (`scheme` is its scheme): text without a scheme is
 * http, and `localhost:8080/x` is a host and port, not a scheme.
 */
export function parseLikeBrowser(text: string, scheme: string): URL | null {
  const cleaned = stripAsUrlParser(text);
  try {
    const url = new URL(cleaned.toLowerCase().startsWith(`${scheme}:`) ? cleaned : `http://${cleaned}`);
    url.hash = '';
    return url;
  } catch {
    return null;
  }
}

/** The last label of a host the URL standard reads as IPv4 ("ends in a number"). */
const ENDS_IN_A_NUMBER = /^(?:\d+|0x[0-9a-f]*)$/i;

/**
 * Whether a browser visits the very URL canonicalize reads in `text`, so that the visited form
 * (parseLikeBrowser, then canonicalizeParsed) needs no second pass. True for the common form
 * (http(s), a plain host, no userinfo) whose path has nothing to resolve: no `%` (an escaped
 * `.` or `/`), no empty or dot segment, which a browser resolves in another order than Safe
 * Browsing (`/a///..` is `/a//` to one, `/` to the other). A property test pins the equality.
 */
export function visitedAsRead(text: string): boolean {
  const match = COMMON_URL.exec(text);
  if (match === null) return false;
  // A host ending in a number is an IPv4 address to a browser, or no URL at all
  // (`http://1.2.3.4.5/`, `http://999999999999/`): the full reading decides.
  const host = match[2]!;
  if (ENDS_IN_A_NUMBER.test(host.slice(host.lastIndexOf('.') + 1))) return false;
  const pathAndQuery = match[4] ?? '';
  const query = pathAndQuery.indexOf('?');
  const path = query < 0 ? pathAndQuery : pathAndQuery.slice(0, query);
  return !path.includes('%') && !PATH_NEEDS_WORK.test(path);
}

/** A WHATWG URL's href without its fragment: which request it makes. */
export function hrefWithoutFragment(url: URL): string {
  // A `#` anywhere but before the fragment is percent-encoded in an href.
  const hash = url.href.indexOf('#');
  return hash < 0 ? url.href : url.href.slice(0, hash);
}

/**
 * The canonical form of a WHATWG-parsed URL (what is fetched, or what a browser would visit),
 * built without its userinfo and fragment. Canonicalising the raw text instead unescapes before
 * finding the host, so `http://good.com%2F@evil.com/` (a browser visits evil.com) would be read as
 * good.com. `hadUserinfo` says whether the parsed URL carried userinfo.
 */
export function canonicalizeParsed(url: URL, options?: CanonicalizeOptions): CanonicalUrl {
  const withoutUserinfo = new URL(url.href);
  withoutUserinfo.username = '';
  withoutUserinfo.password = '';
  const canonical = canonicalize(hrefWithoutFragment(withoutUserinfo), options);
  return { ...canonical, hadUserinfo: url.username !== '' || url.password !== '' };
}

/**
 * The common case, without the general path's byte-string conversion and passes: printable-ASCII
 * `http(s)://host[:port][/path][?query][#fragment]` whose host is plain labels (no userinfo, no
 * `%`, `\\` or empty labels in it; Unicode labels allowed). Returns exactly what the general path
 * returns (a property test compares them), or undefined to send the input down the general path.
 */
const COMMON_URL = /^(https?):\/\/([\w\u0080-\ud7ff\ue000-\uffff-]+(?:\.[\w\u0080-\ud7ff\ue000-\uffff-]+)*|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?([/?][\x21\x22\x24-\x5b\x5d-\x7e]*)?(?:#[\x21-\x7e]*)?$/i;
/** Paths canonicalPath would change: empty segments and `.`/`..` segments. */
const PATH_NEEDS_WORK = /\/\/|\/\.\.?(?:\/|$)/;
/** Bytes escapeUnsafeBytes would escape. */
const NEEDS_ESCAPE = /[\x00-\x20\x7f-\xff#%]/;

const PLAIN_HOST = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
/** A character the usual host (lowercase ASCII labels) does not have. */
const NOT_PLAIN_LOWER = /[^a-z0-9._-]/;
const NON_ASCII = /[^\x00-\x7f]/;

const ANY_ESCAPE = /%[0-9a-fA-F]{2}/;

/**
 * unescapeRepeatedly's result for ASCII text, by slices: one pass is the fixed point unless the
 * result still holds an escape (`%2541` -> `%41`), which goes to the general function.
 */
function unescapeCommon(text: string): string {
  let out = '';
  let copied = 0;
  for (let i = text.indexOf('%'); i >= 0; i = text.indexOf('%', i + 1)) {
    const high = hexValue(text.charCodeAt(i + 1));
    const low = high < 0 ? -1 : hexValue(text.charCodeAt(i + 2));
    if (low < 0) continue;
    out += text.slice(copied, i) + String.fromCharCode(high * 16 + low);
    copied = i + 3;
    i += 2;
  }
  out += text.slice(copied);
  return out.includes('%') && ANY_ESCAPE.test(out) ? unescapeRepeatedly(text) : out;
}

function canonicalizeCommon(input: string): CanonicalUrl | undefined {
  const match = COMMON_URL.exec(input);
  if (match === null) return undefined;
  const scheme = match[1]!.length === 4 ? 'http' : 'https';
  let host = match[2]!;
  let hostIsIp = false;
  if (!NOT_PLAIN_LOWER.test(host)) {
    // The usual host: lowercase ASCII labels, nothing to map.
  } else if (host.charCodeAt(0) === 0x5b) {
    try {
      host = canonicalIPv6(host).host;
    } catch {
      return undefined; // the general path throws the same error
    }
    hostIsIp = true;
  } else if (NON_ASCII.test(host)) {
    // The general path maps IDN labels with UTS #46; anything that does not come out as plain
    // labels (dots, '' for not a domain) goes there.
    host = domainToASCII(host);
    if (!PLAIN_HOST.test(host)) return undefined;
  } else if (/[A-Z]/.test(host)) {
    host = host.toLowerCase();
  }
  const first = host.charCodeAt(host.lastIndexOf('.') + 1);
  if (!hostIsIp && first >= 0x30 && first <= 0x39) {
    // Every part of an IPv4 literal is a number, so only a host ending in a digit-led label can be one.
    const ipv4 = parseIPv4(host);
    if (ipv4 !== null) {
      host = formatIPv4(ipv4);
      hostIsIp = true;
    }
  }
  let port: number | undefined;
  if (match[3] !== undefined) {
    port = Number(match[3]);
    if (port > 65535) return undefined;
    if (port === DEFAULT_PORTS[scheme]) port = undefined;
  }
  let rest = match[4] ?? '';
  // Without a `%`, the matched text has no byte to unescape or escape (the pattern admits none).
  const escaped = rest.includes('%');
  if (escaped) rest = unescapeCommon(rest);
  const questionMark = rest.indexOf('?');
  let path = questionMark < 0 ? rest : rest.slice(0, questionMark);
  if (path === '') path = '/';
  else if ((path.includes('//') || path.includes('/.')) && PATH_NEEDS_WORK.test(path)) path = canonicalPath(path);
  if (escaped && NEEDS_ESCAPE.test(path)) path = escapeUnsafeBytes(path);
  let query = questionMark < 0 ? undefined : rest.slice(questionMark + 1);
  if (escaped && query !== undefined && NEEDS_ESCAPE.test(query)) query = escapeUnsafeBytes(query);
  const canonical = `${scheme}://${host}${path}${query === undefined ? '' : `?${query}`}`;
  const result: CanonicalUrl = { input, canonical, scheme, host, path, hostIsIp, hadUserinfo: false };
  if (port !== undefined) result.port = port;
  if (query !== undefined) result.query = query;
  return result;
}
