import { ScanError } from '../../errors.js';
import type { CanonicalUrl } from '../canonicalize.js';

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

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

/**
 * Identity of a URL for loop detection: the Safe Browsing canonical form plus the effective port
 * (the canonical form drops ports, but two ports are two servers).
 */
export function loopKey(url: CanonicalUrl): string {
  const port = url.port ?? DEFAULT_PORTS[url.scheme] ?? 0;
  return `${url.scheme}://${url.host}:${port}${url.path}${url.query === undefined ? '' : `?${url.query}`}`;
}

/** Counts hops and remembers every URL visited; throws as soon as a chain must stop. */
export class RedirectTracker {
  private readonly seen = new Set<string>();
  private redirects = 0;

  constructor(private readonly maxRedirects: number = DEFAULT_MAX_REDIRECTS) {}

  /** Records the first URL of the chain. */
  start(url: CanonicalUrl): void {
    this.seen.add(loopKey(url));
  }

  /** Records a redirect to `url`; throws too_many_redirects or redirect_loop. */
  follow(url: CanonicalUrl): void {
    this.redirects++;
    if (this.redirects > this.maxRedirects) {
      throw new ScanError('too_many_redirects', `more than ${this.maxRedirects} redirects`, { maxRedirects: this.maxRedirects, next: url.canonical });
    }
    const key = loopKey(url);
    if (this.seen.has(key)) throw new ScanError('redirect_loop', undefined, { repeated: url.canonical });
    this.seen.add(key);
  }

  get count(): number {
    return this.redirects;
  }
}
