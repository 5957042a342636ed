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
  const components = host.split('.');
  const last = components.slice(-MAX_HOST_COMPONENTS);
  for (let start = 0; start <= last.length - 2; start++) {
    const suffix = last.slice(start).join('.');
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
  const add = (p: string) => {
    if (!prefixes.includes(p)) prefixes.push(p);
  };
  if (query !== undefined) add(`${path}?${query}`);
  add(path);
  // Directories are every component but the last (the last is a file name, or '' after a slash).
  const directories = path.split('/').slice(1, -1);
  let prefix = '/';
  add(prefix);
  for (const directory of directories.slice(0, MAX_PATH_PREFIXES - 1)) {
    prefix += `${directory}/`;
    add(prefix);
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
