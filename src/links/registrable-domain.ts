import { domainToASCII } from 'node:url';
import { getDomain } from 'tldts';
import type { CanonicalUrl } from './canonicalize.js';
import { parseIpLiteral } from './ip-literal.js';

/**
 * The registrable domain ("eTLD+1") of a host, from the Public Suffix List via tldts.
 *
 * Policy: PRIVATE suffixes count by default (`allowPrivateDomains: true`). Private suffixes such as
 * `blogspot.com`, `github.io` or `s3.amazonaws.com` are shared hosting: each subdomain belongs to
 * a different, independent owner. Treating `evil.github.io` as the registrable domain lets one
 * blocklist entry or one reputation score hit one owner, and not every site on GitHub Pages.
 * With `privateSuffixes: false` only ICANN suffixes count (`evil.github.io` -> `github.io`),
 * which is what you want when asking "who runs the infrastructure".
 *
 * Hosts are lowercased, stripped of a trailing dot and converted to punycode, so `bücher.de` and
 * `xn--bcher-kva.de` give the same answer. IP addresses (any notation, bracketed or not), bare
 * suffixes (`co.uk`, `github.io` with private suffixes on) and single labels give null.
 */
export interface RegistrableDomainOptions {
  /** Count private PSL suffixes (blogspot.com, github.io...). Default true; see the policy above. */
  privateSuffixes?: boolean;
}

export function registrableDomain(host: string, options: RegistrableDomainOptions = {}): string | null {
  let name = host.trim().replace(/\.+$/, '');
  if (name === '' || parseIpLiteral(name) !== null) return null;
  if (name.startsWith('[')) return null;
  name = /[^\x00-\x7f]/.test(name) ? domainToASCII(name) : name.toLowerCase();
  if (name === '') return null;
  return getDomain(name, {
    allowPrivateDomains: options.privateSuffixes ?? true,
    extractHostname: false,
    validateHostname: true,
  });
}

/**
 * The registrable domain of a canonicalized URL's host. A canonical host is already lowercase,
 * punycode and free of trailing dots, and `hostIsIp` is known, so the per-URL hot path skips
 * re-parsing the host (same answers as `registrableDomain`, about twice as fast).
 */
export function registrableDomainOf(url: Pick<CanonicalUrl, 'host' | 'hostIsIp'>, options: RegistrableDomainOptions = {}): string | null {
  if (url.hostIsIp || url.host === '') return null;
  return getDomain(url.host, {
    allowPrivateDomains: options.privateSuffixes ?? true,
    extractHostname: false,
    validateHostname: true,
  });
}
