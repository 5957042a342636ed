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
  // The dot before the longest suffix (of at most MAX_HOST_COMPONENTS components), found right to
  // left; then each suffix starts after the next dot. Index arithmetic instead of split/join (and
  // no array of dot positions): this runs for every URL.
  let start = -1;
  for (let i = host.length - 1, dots = 0; i >= 0; i--) {
    if (host.charCodeAt(i) === 0x2e && ++dots === MAX_HOST_COMPONENTS) {
      start = i;
      break;
    }
  }
  // Suffixes of 2+ components: stop before the last dot (the top-level domain alone).
  const last = host.lastIndexOf('.');
  for (let dot = start; dot >= -1 && dot < last; dot = host.indexOf('.', dot + 1)) {
    if (dot >= 0) suffixes.push(host.slice(dot + 1));
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
  return expressionsOf(hostSuffixes(canonical.host, canonical.hostIsIp), pathPrefixes(canonical.path, canonical.query));
}

/**
 * The expressions of a URL's `hostSuffixes` x `pathPrefixes` (computed once by a caller that
 * keeps them): host-major, so `hosts[h] + paths[p]` is expression `h * paths.length + p`.
 */
export function expressionsOf(hosts: readonly string[], paths: readonly string[]): string[] {
  // Sized once: no regrowth while filling (up to 30 expressions per URL).
  const expressions = new Array<string>(hosts.length * paths.length);
  for (let h = 0, i = 0; h < hosts.length; h++) {
    const host = hosts[h]!;
    for (let p = 0; p < paths.length; p++) expressions[i++] = host + paths[p]!;
  }
  return expressions;
}
