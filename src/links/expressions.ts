import { canonicalize, type CanonicalizeOptions, type CanonicalUrl } from './canonicalize.js';

/**
 * Safe Browsing host-suffix / path-prefix lookup expressions ("URLs and Hashing", v4): a list
 * entry for `evil.com/` or `b.c/1/` must hit every URL under it, so a URL is looked up under up
 * to 5 host suffixes times up to 6 path prefixes (at most 30 expressions). Scheme, port and
 * userinfo are not part of an expression. Pure logic: no I/O.
 */

/** Host suffixes use at most the last 5 components of the host. */
const MAX_HOST_COMPONENTS = 5;
/** Path prefixes built from the root: `/`, `/a/`, `/a/b/`, `/a/b/c/`. */
const MAX_PATH_PREFIXES = 4;

/**
 * The exact host, then (hostnames only) the suffixes formed from the last 5 components by
 * removing the leading component one at a time, stopping before the top-level domain alone.
 * IP hosts give the exact host only. Order: exact host first, then longest to shortest.
 */
export function hostSuffixes(host: string, hostIsIp: boolean): string[] {
  const suffixes = [host];
  if (hostIsIp) return suffixes;
  // Positions of the last MAX_HOST_COMPONENTS dots, right to left: suffix k+1 components long
  // starts after dots[k]. Index arithmetic instead of split/join: this runs for every URL.
  const dots: number[] = [];
  for (let i = host.length - 1; i >= 0 && dots.length < MAX_HOST_COMPONENTS; i--) {
    if (host.charCodeAt(i) === 0x2e) dots.push(i);
  }
  const longest = Math.min(MAX_HOST_COMPONENTS, dots.length + 1);
  for (let components = longest; components >= 2; components--) {
    const dot = dots[components - 1];
    if (dot === undefined) continue; // the whole host, already first
    const suffix = host.slice(dot + 1);
    if (suffix !== host) suffixes.push(suffix);
  }
  return suffixes;
}

/**
 * The exact path with the query, the exact path without it, then up to 4 prefixes built from the
 * root by appending one directory at a time (each with a trailing slash). Duplicates are dropped.
 */
export function pathPrefixes(path: string, query?: string): string[] {
  const prefixes: string[] = [];
  if (query !== undefined) prefixes.push(`${path}?${query}`);
  prefixes.push(path);
  // Directories are every component but the last: prefixes end at each of the first 4 slashes
  // that has something after it (the path itself is already in).
  let slash = 0;
  for (let n = 0; n < MAX_PATH_PREFIXES && slash >= 0; n++) {
    const prefix = path.slice(0, slash + 1);
    if (prefix !== path) prefixes.push(prefix);
    slash = path.indexOf('/', slash + 1);
  }
  return prefixes;
}

/** Every host-suffix x path-prefix expression of a URL, host-major, in the documentation's order. */
export function lookupExpressions(url: CanonicalUrl | string, options?: CanonicalizeOptions): string[] {
  const canonical = typeof url === 'string' ? canonicalize(url, options) : url;
  const paths = pathPrefixes(canonical.path, canonical.query);
  const expressions: string[] = [];
  for (const host of hostSuffixes(canonical.host, canonical.hostIsIp)) {
    for (const path of paths) expressions.push(`${host}${path}`);
  }
  return expressions;
}
