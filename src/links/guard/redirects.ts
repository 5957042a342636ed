import { parse as parseDomain } from 'tldts';
import { ScanError } from '../../errors.js';
import { recordedUrl } from '../recorded-url.js';
import { hrefWithoutFragment } from '../canonicalize.js';
import { parseIpLiteral } from '../ip-literal.js';
import { isPublicAddress } from './address.js';
import { headerText } from './header-text.js';

/**
 * Redirect bookkeeping for the unfurler: which statuses are redirects, where a Location points,
 * and when a chain must stop (hop limit, loop). Pure logic: no I/O.
 */

/**
 * Statuses every browser follows (Fetch's redirect statuses). 304 (not modified) and 305/306
 * (obsolete) are final; 300 is MULTIPLE_CHOICES_STATUS.
 */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * 300 Multiple Choices: Firefox follows its Location (Gecko's IsRedirectStatus includes 300);
 * Chromium and WebKit, as Fetch says, show the page (its refresh, if any, then leads on).
 */
export const MULTIPLE_CHOICES_STATUS = 300;

export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * A Location value as browsers read it: raw UTF-8 decoded (headerText), then only HTTP tab or
 * space stripped from its ends. Not String#trim, which would also strip U+00A0 (the byte 0xA0 ending
 * UTF-8 `à`, read as Latin-1) before decoding, and U+3000 and the like after it.
 */
function locationText(value: string): string {
  const text = headerText(value);
  let from = 0;
  let to = text.length;
  while (from < to && (text[from] === ' ' || text[from] === '\t')) from++;
  while (to > from && (text[to - 1] === ' ' || text[to - 1] === '\t')) to--;
  return text.slice(from, to);
}

/**
 * The one Location of a response, as Chrome picks it: repeated copies with the same value (after
 * stripping) are one Location; copies that differ are refused (Chrome fails the navigation with
 * ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION, a response-splitting guard), so undefined here.
 */
function singleLocation(location: string | string[] | undefined): string | undefined {
  if (!Array.isArray(location)) return location === undefined ? undefined : locationText(location);
  const first = location[0] === undefined ? undefined : locationText(location[0]);
  return location.every((value) => locationText(value) === first) ? first : undefined;
}

/**
 * Resolves a Location header against the URL that sent it; bad_redirect when unusable. Raw UTF-8
 * bytes in the header are read as UTF-8, as browsers read them (see headerText).
 */
export function resolveLocation(location: string | string[] | undefined, base: URL): URL {
  const value = singleLocation(location);
  if (value === undefined || value === '') {
    throw new ScanError('bad_redirect', Array.isArray(location) ? 'several different Location headers' : 'redirect without Location', {
      from: recordedUrl(base.href),
    });
  }
  try {
    return new URL(value, base);
  } catch {
    throw new ScanError('bad_redirect', 'the Location header is not a URL', { from: recordedUrl(base.href), location: recordedUrl(value) });
  }
}

/**
 * Identity of a URL for loop detection: its WHATWG href without fragment, the request actually
 * made (ports included). Not the Safe Browsing canonical form: that one unescapes and collapses
 * slashes, so `//landing` -> `/landing` or `/%7Euser/` -> `/~user/`, two different requests,
 * would look like a loop.
 */
export function loopKey(url: URL): string {
  return hrefWithoutFragment(url);
}

/**
 * Counts hops and remembers every URL visited; throws as soon as a chain must stop. A revisit is a
 * loop only when the client state that shapes the request (`state`, e.g. a cookie jar's version)
 * is the same as on the last visit: a site that sets a cookie and redirects to itself (a cookie
 * check) answers differently the second time. Callers without such state pass none.
 */
export class RedirectTracker {
  private readonly seen = new Map<string, unknown>();
  private redirects = 0;

  constructor(private readonly maxRedirects: number = DEFAULT_MAX_REDIRECTS) {}

  /** Records the first URL of the chain. */
  start(url: URL, state?: unknown): void {
    this.seen.set(loopKey(url), state);
  }

  /** The URLs visited so far, for fallBack to go back to. */
  snapshot(): TrackerSnapshot {
    return new Map(this.seen);
  }

  /**
   * Records `url` fetched instead of a navigation that failed (an https upgrade's fallback to
   * http, which Chrome serves as an artificial redirect within the same navigation): never a loop,
   * and, when `counted` (the failed attempt had followed redirects), one more redirect, so it
   * throws too_many_redirects past the limit. `before` (a snapshot taken when the failed attempt
   * started) replaces the URLs visited since: what the abandoned attempt visited is no loop for
   * the fallback's redirects. The count never goes back.
   */
  fallBack(url: URL, state: unknown, before: TrackerSnapshot, counted: boolean): void {
    if (counted) this.countRedirect(url);
    this.seen.clear();
    for (const [key, value] of before) this.seen.set(key, value);
    this.seen.set(loopKey(url), state);
  }

  /** Whether `url` was visited with this same client state: following it again is a loop. */
  wouldLoop(url: URL, state?: unknown): boolean {
    const key = loopKey(url);
    return this.seen.has(key) && Object.is(this.seen.get(key), state);
  }

  /** Records a redirect to `url`; throws too_many_redirects or redirect_loop. */
  follow(url: URL, state?: unknown): void {
    this.countRedirect(url);
    const key = loopKey(url);
    if (this.seen.has(key) && Object.is(this.seen.get(key), state)) throw new ScanError('redirect_loop', undefined, { repeated: recordedUrl(url.href) });
    this.seen.set(key, state);
  }

  get count(): number {
    return this.redirects;
  }

  private countRedirect(next: URL): void {
    this.redirects++;
    if (this.redirects > this.maxRedirects) {
      throw new ScanError('too_many_redirects', `more than ${this.maxRedirects} redirects`, { maxRedirects: this.maxRedirects, next: recordedUrl(next.href) });
    }
  }
}

/** The URLs a RedirectTracker had visited (loop keys and their client state), at one time. */
export type TrackerSnapshot = ReadonlyMap<string, unknown>;

/**
 * Public suffixes on the HSTS preload list with include_subdomains: the `"policy": "public-suffix"`
 * entries of Chromium's net/http/transport_security_state_static.json (read November 2026), which
 * Firefox's and Safari's preload lists carry as well. Every browser fetches any http:// URL of a
 * host under them over https, before sending anything (RFC 6797 section 8.3), and never falls
 * back to http. Only these whole-suffix entries: the list's ~150,000 single sites (and the sites
 * a browser has seen send Strict-Transport-Security) are not known here.
 */
export const HSTS_PRELOADED_SUFFIXES: ReadonlySet<string> = new Set([
  // Top-level domains.
  'android', 'app', 'bank', 'chrome', 'dev', 'foo', 'gle', 'gmail', 'google', 'hangout', 'insurance',
  'meet', 'new', 'page', 'play', 'search', 'youtube', 'esq', 'fly', 'rsvp', 'eat', 'nexus', 'ing',
  'meme', 'phd', 'prof', 'boo', 'dad', 'day', 'channel', 'hotmail', 'mov', 'zip', 'windows', 'skype',
  'azure', 'office', 'bing', 'xbox', 'microsoft', 'amazon', 'audible', 'fire', 'imdb', 'kindle',
  'prime', 'silk', 'zappos', 'xn--cckwcxetd', 'xn--jlq480n2rg', 'fujitsu',
  // Suffixes of the Public Suffix List's private section.
  'bmoattachments.org', 'now.sh', 'cnpy.gdn', 'gentapps.com', 'onavstack.net',
]);

/** Whether `hostname` (a URL's: lowercase, punycode) is or is under an HSTS_PRELOADED_SUFFIXES entry. */
export function isHstsPreloaded(hostname: string): boolean {
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  for (let dot = -1; ; dot = name.indexOf('.', dot + 1)) {
    if (HSTS_PRELOADED_SUFFIXES.has(name.slice(dot + 1))) return true;
    if (name.indexOf('.', dot + 1) === -1) return false;
  }
}

/**
 * Test servers listen on ephemeral ports, not 80 and 443: an http URL on `http` counts as on the
 * default port, and is upgraded to port `https` (as Chrome's own tests map theirs).
 */
export interface UpgradePorts {
  http: number;
  https: number;
}

/**
 * How a browser fetches an http:// URL (`url`), when not over plain http. Port 80 becomes 443;
 * any other port is kept, as browsers keep it (`http://host:8443/` is tried as `https://host:8443/`).
 * - `hsts`: its host is under an HSTS-preloaded suffix: fetched over https, never over http.
 * - `upgrade`: Chrome's HTTPS-Upgrades (Chrome 115 and later) try https first and fall back to
 *   http when that fails: a navigation, on any port, to a host that is neither localhost nor
 *   "non-unique" (net::IsHostnameNonUnique: an IP address that is not publicly routable, or a
 *   name without a registrable domain under an ICANN suffix: a single label, `.local`,
 *   `.internal`, `.test`, `.invalid`...). Public IP addresses are upgraded too. Chrome's
 *   interceptor has no port condition: a redirector serving TLS on a port of its own is reached
 *   over https by Chrome, and plain http to that port fails.
 * Undefined for an https:// URL, or an http:// one every browser fetches over http.
 */
export function httpsUpgradeOf(url: URL, testPorts?: UpgradePorts): { kind: 'hsts' | 'upgrade'; url: URL } | undefined {
  if (url.protocol !== 'http:') return undefined;
  const upgraded = (): URL => {
    const https = new URL(url.href);
    https.protocol = 'https:';
    // The test http port stands for 80: it maps to the test https port.
    if (testPorts !== undefined && url.port !== '' && Number(url.port) === testPorts.http) https.port = String(testPorts.https);
    return https;
  };
  const literal = parseIpLiteral(url.hostname);
  if (literal === null && isHstsPreloaded(url.hostname)) return { kind: 'hsts', url: upgraded() };
  if (literal !== null) return isPublicAddress(literal.address) ? { kind: 'upgrade', url: upgraded() } : undefined;
  const name = parseDomain(url.hostname, { allowPrivateDomains: false, extractHostname: false });
  if (name.isIcann !== true || name.domain === null || name.publicSuffix === 'localhost') return undefined;
  return { kind: 'upgrade', url: upgraded() };
}
