import { domainToASCII } from 'node:url';
import { headerText } from './guard/header-text.js';
import { parseIpLiteral } from './ip-literal.js';
import { registrableDomain } from './registrable-domain.js';

/**
 * The cookies of one unfurl chain, so that a site that sets a cookie and redirects to itself (a
 * cookie check, a consent wall) sends the client on as a browser would. Never shared between
 * unfurls or jobs: each chain starts empty, like a private window. Set-Cookie is parsed and stored
 * by RFC 6265bis (sections 5.6 and 5.7): Domain (refused on public suffixes), Path (default path),
 * Secure (stored and sent over https only), Max-Age over Expires, expiry deletes, `__Secure-` and
 * `__Host-` prefixes. Not modelled: SameSite (every cookie is sent, as on a same-site top-level
 * navigation), HttpOnly (no scripts run here). Bounded: at most `maxCookies` cookies (the oldest go
 * first), each name + value at most `maxCookieBytes`. Pure logic: no I/O; the clock is injectable.
 *
 * undici's `parseCookie` is not used: it turns an invalid Path into `/` instead of the default
 * path, and ignores a negative Max-Age instead of expiring the cookie.
 */

export interface CookieJarOptions {
  /** Cookies kept; storing one more drops the oldest. Default 50. */
  maxCookies?: number;
  /** Longest name + value accepted (longer cookies are ignored). Default 4096. */
  maxCookieBytes?: number;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

interface Cookie {
  name: string;
  value: string;
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  /** Milliseconds since the epoch; Infinity for a session cookie. */
  expiresAt: number;
  /** Creation order, kept when a cookie is replaced. */
  created: number;
}

interface ParsedSetCookie {
  name: string;
  value: string;
  expires?: number;
  maxAge?: number;
  domain?: string;
  path?: string;
  secure: boolean;
}

const MAX_ATTRIBUTE_VALUE = 1024;
/** RFC 6265bis caps cookie lifetimes at 400 days. */
const MAX_AGE_CAP_S = 400 * 24 * 3600;

/** RFC 6265bis trims only spaces and tabs. */
function trimWsp(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** One Set-Cookie value (RFC 6265bis 5.6); null when it must be ignored. */
export function parseSetCookie(header: string, maxCookieBytes = 4096): ParsedSetCookie | null {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(header)) return null;
  const semicolon = header.indexOf(';');
  const pair = semicolon < 0 ? header : header.slice(0, semicolon);
  const equals = pair.indexOf('=');
  const name = equals < 0 ? '' : trimWsp(pair.slice(0, equals));
  const value = trimWsp(equals < 0 ? pair : pair.slice(equals + 1));
  if (name === '' && value === '') return null;
  if (name.length + value.length > maxCookieBytes) return null;
  const cookie: ParsedSetCookie = { name, value, secure: false };
  if (semicolon < 0) return cookie;
  for (const attribute of header.slice(semicolon + 1).split(';')) {
    const at = attribute.indexOf('=');
    const key = trimWsp(at < 0 ? attribute : attribute.slice(0, at)).toLowerCase();
    const attributeValue = at < 0 ? '' : trimWsp(attribute.slice(at + 1));
    if (attributeValue.length > MAX_ATTRIBUTE_VALUE) continue;
    if (key === 'expires') {
      const time = Date.parse(attributeValue);
      if (!Number.isNaN(time)) cookie.expires = time;
    } else if (key === 'max-age') {
      if (/^-?[0-9]+$/.test(attributeValue)) cookie.maxAge = Number(attributeValue);
    } else if (key === 'domain') {
      // ASCII-only lowercasing: the value may be raw UTF-8 bytes read as Latin-1.
      const domain = attributeValue.replace(/^\./, '').replace(/[A-Z]+/g, (s) => s.toLowerCase());
      if (domain === '') delete cookie.domain;
      else cookie.domain = domain;
    } else if (key === 'path') {
      if (attributeValue.startsWith('/')) cookie.path = attributeValue;
      else delete cookie.path;
    } else if (key === 'secure') {
      cookie.secure = true;
    }
  }
  return cookie;
}

/** RFC 6265bis 5.1.4: the directory of the request path. */
function defaultPath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith('/')) return '/';
  const last = path.lastIndexOf('/');
  return last <= 0 ? '/' : path.slice(0, last);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** `url.hostname` without IPv6 brackets: lowercase, punycode, what a Domain attribute is compared with. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function isIp(host: string): boolean {
  return host.includes(':') || parseIpLiteral(host) !== null;
}

function domainMatches(host: string, domain: string): boolean {
  return host === domain || (!isIp(host) && host.endsWith(`.${domain}`));
}

export class CookieJar {
  private cookies: Cookie[] = [];
  private created = 0;
  private changes = 0;
  private readonly maxCookies: number;
  private readonly maxCookieBytes: number;
  private readonly now: () => number;

  constructor(options: CookieJarOptions = {}) {
    this.maxCookies = options.maxCookies ?? 50;
    this.maxCookieBytes = options.maxCookieBytes ?? 4096;
    this.now = options.now ?? Date.now;
  }

  /**
   * Changes so far to what the jar would send (a cookie added, its value or scope changed, or
   * removed). The same version at two visits of a URL means the same cookies went with both.
   */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.cookies.length;
  }

  /** Stores the Set-Cookie header(s) of a response from `url`. */
  store(url: URL, setCookie: string | string[] | undefined): void {
    if (setCookie === undefined) return;
    for (const header of Array.isArray(setCookie) ? setCookie : [setCookie]) this.storeOne(url, header);
  }

  private storeOne(url: URL, header: string): void {
    const parsed = parseSetCookie(header, this.maxCookieBytes);
    if (parsed === null) return;
    const secureOrigin = url.protocol === 'https:';
    if (parsed.secure && !secureOrigin) return;
    const host = hostOf(url);
    let hostOnly = true;
    let domain = host;
    if (parsed.domain !== undefined) {
      // Compared in punycode, as URL hosts are (raw UTF-8 bytes read as UTF-8 first).
      const attribute = /[^\x00-\x7f]/.test(parsed.domain) ? domainToASCII(headerText(parsed.domain)) : parsed.domain;
      if (attribute === '') return;
      // A public suffix (or a single label) may only name the request host itself.
      const publicSuffix = !isIp(attribute) && registrableDomain(attribute) === null;
      if (publicSuffix && attribute !== host) return;
      if (!domainMatches(host, attribute)) return;
      if (!publicSuffix) {
        hostOnly = false;
        domain = attribute;
      }
    }
    const lowerName = parsed.name.toLowerCase();
    if (lowerName.startsWith('__secure-') && !parsed.secure) return;
    if (lowerName.startsWith('__host-') && (!parsed.secure || parsed.domain !== undefined || parsed.path !== '/')) return;
    const now = this.now();
    let expiresAt = Infinity;
    if (parsed.maxAge !== undefined) {
      expiresAt = parsed.maxAge <= 0 ? -Infinity : now + Math.min(parsed.maxAge, MAX_AGE_CAP_S) * 1000;
    } else if (parsed.expires !== undefined) {
      expiresAt = Math.min(parsed.expires, now + MAX_AGE_CAP_S * 1000);
    }
    const cookie: Cookie = {
      name: parsed.name,
      value: parsed.value,
      domain,
      hostOnly,
      path: parsed.path ?? defaultPath(url),
      secure: parsed.secure,
      expiresAt,
      created: this.created++,
    };
    const index = this.cookies.findIndex((c) => c.name === cookie.name && c.domain === cookie.domain && c.hostOnly === cookie.hostOnly && c.path === cookie.path);
    const old = index >= 0 ? this.cookies[index] : undefined;
    if (expiresAt <= now) {
      if (old) {
        this.cookies.splice(index, 1);
        this.changes++;
      }
      return;
    }
    if (old) {
      cookie.created = old.created;
      this.cookies[index] = cookie;
      if (old.value !== cookie.value || old.secure !== cookie.secure) this.changes++;
      return;
    }
    this.cookies.push(cookie);
    this.changes++;
    this.evict(now);
  }

  /** Drops expired cookies, then the oldest, down to maxCookies. */
  private evict(now: number): void {
    if (this.cookies.length <= this.maxCookies) return;
    this.cookies = this.cookies.filter((c) => c.expiresAt > now);
    this.cookies.sort((a, b) => a.created - b.created);
    while (this.cookies.length > this.maxCookies) this.cookies.shift();
  }

  /** The Cookie header for a request to `url` (RFC 6265bis 5.8.3), or undefined when none applies. */
  header(url: URL): string | undefined {
    const now = this.now();
    const host = hostOf(url);
    const secure = url.protocol === 'https:';
    const sent = this.cookies
      .filter(
        (c) =>
          c.expiresAt > now &&
          (c.hostOnly ? host === c.domain : domainMatches(host, c.domain)) &&
          pathMatches(url.pathname, c.path) &&
          (!c.secure || secure),
      )
      .sort((a, b) => b.path.length - a.path.length || a.created - b.created);
    if (sent.length === 0) return undefined;
    return sent.map((c) => (c.name === '' ? c.value : `${c.name}=${c.value}`)).join('; ');
  }
}
