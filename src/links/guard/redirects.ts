import { ScanError } from '../../errors.js';
import { recordedUrl } from '../recorded-url.js';
import { hrefWithoutFragment } from '../canonicalize.js';
import { headerText } from './header-text.js';

/**
 * Redirect bookkeeping for the unfurler: which statuses are redirects, where a Location points,
 * and when a chain must stop (hop limit, loop). Pure logic: no I/O.
 */

/** Statuses followed. 300 (choice), 304 (not modified) and 305/306 (obsolete) are final. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

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

  /** Records a redirect to `url`; throws too_many_redirects or redirect_loop. */
  follow(url: URL, state?: unknown): void {
    this.redirects++;
    if (this.redirects > this.maxRedirects) {
      throw new ScanError('too_many_redirects', `more than ${this.maxRedirects} redirects`, { maxRedirects: this.maxRedirects, next: recordedUrl(url.href) });
    }
    const key = loopKey(url);
    if (this.seen.has(key) && Object.is(this.seen.get(key), state)) throw new ScanError('redirect_loop', undefined, { repeated: recordedUrl(url.href) });
    this.seen.set(key, state);
  }

  get count(): number {
    return this.redirects;
  }
}
