import { ScanError } from '../../errors.js';
import { hrefWithoutFragment } from '../canonicalize.js';

/**
 * Redirect bookkeeping for the unfurler: which statuses are redirects, where a Location points,
 * and when a chain must stop (hop limit, loop). Pure logic: no I/O.
 */

/** Statuses followed. 300 (choice), 304 (not modified) and 305/306 (obsolete) are final. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export const DEFAULT_MAX_REDIRECTS = 10;

/** Resolves a Location header against the URL that sent it; bad_redirect when unusable. */
export function resolveLocation(location: string | string[] | undefined, base: URL): URL {
  const value = Array.isArray(location) ? (location.length === 1 ? location[0] : undefined) : location;
  if (value === undefined || value.trim() === '') {
    throw new ScanError('bad_redirect', Array.isArray(location) ? 'several Location headers' : 'redirect without Location', {
      from: base.href,
    });
  }
  try {
    return new URL(value.trim(), base);
  } catch {
    throw new ScanError('bad_redirect', 'the Location header is not a URL', { from: base.href, location: value.slice(0, 2048) });
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

/** Counts hops and remembers every URL visited; throws as soon as a chain must stop. */
export class RedirectTracker {
  private readonly seen = new Set<string>();
  private redirects = 0;

  constructor(private readonly maxRedirects: number = DEFAULT_MAX_REDIRECTS) {}

  /** Records the first URL of the chain. */
  start(url: URL): void {
    this.seen.add(loopKey(url));
  }

  /** Records a redirect to `url`; throws too_many_redirects or redirect_loop. */
  follow(url: URL): void {
    this.redirects++;
    if (this.redirects > this.maxRedirects) {
      throw new ScanError('too_many_redirects', `more than ${this.maxRedirects} redirects`, { maxRedirects: this.maxRedirects, next: url.href });
    }
    const key = loopKey(url);
    if (this.seen.has(key)) throw new ScanError('redirect_loop', undefined, { repeated: url.href });
    this.seen.add(key);
  }

  get count(): number {
    return this.redirects;
  }
}
