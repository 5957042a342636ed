import { ScanError } from '../errors.js';
import type { ScanItem } from '../jobs/job-schema.js';
import { canonicalize, canonicalizeParsed, parseLikeBrowser, visitedAsRead, type CanonicalizeOptions, type CanonicalUrl } from '../links/canonicalize.js';
import { expressionsOf, hostSuffixes, pathPrefixes } from '../links/expressions.js';
import { registrableDomainOf } from '../links/registrable-domain.js';
import { unfurl, type UnfurlOptions, type UnfurlResult } from '../links/unfurl.js';
import type { UnfurlCache } from '../links/unfurl-cache.js';
import type { ItemPreparer, PreparedItem } from './item-preparer.js';

/** One URL a link leads through, ready for matching. */
export interface LinkTarget {
  /** 0 for the link as given; then 1, 2... for each further target in order. */
  hop: number;
  canonical: CanonicalUrl;
  /** Safe Browsing host-suffix x path-prefix expressions of the canonical URL. */
  expressions: string[];
  /**
   * What `expressions` are built from, host-major: `hosts` is `hostSuffixes` of the canonical host
   * and `paths` its `pathPrefixes`, so `hosts[h] + paths[p]` is `expressions[h * paths.length + p]`.
   * Matching reads these and builds only the expressions of hosts a list names (nearly none: most
   * URLs' hosts are in no list), instead of all of them. `linkTarget` always sets both.
   */
  hosts?: readonly string[];
  paths?: readonly string[];
  registrableDomain: string | null;
}

/** What link signal types read: the link as given and every URL its chain reached. */
export interface LinkSubject {
  input: string;
  /**
   * The input first (Safe Browsing's reading), then the input as a browser reads it when that
   * differs (`http://good.com%2F@evil.com/`), then each further URL of the chain, without repeats.
   */
  targets: LinkTarget[];
  /** Present when the link was unfurled (http/https and unfurling on). */
  unfurl?: UnfurlResult;
}

export interface LinkPreparerOptions {
  /** Follow http(s) links through redirects and meta refresh. Default true. */
  unfurl?: boolean;
  unfurlOptions?: UnfurlOptions;
  maxUrlLength?: number;
  /** Serves finished unfurls from a short-TTL cache and shares concurrent fetches. Default none. */
  unfurlCache?: UnfurlCache;
}

const FETCHED_SCHEMES = new Set(['http', 'https']);

/**
 * Prepares link items once for every link signal type: canonicalizes the URL (Safe Browsing
 * rules), unfurls http(s) links through the address guard, and gives each URL reached its
 * lookup expressions and registrable domain, so that every hop is matched, not only the last.
 */
export class LinkPreparer implements ItemPreparer<LinkSubject> {
  readonly kind = 'link' as const;

  constructor(private readonly options: LinkPreparerOptions = {}) {}

  async prepare(item: ScanItem): Promise<PreparedItem<LinkSubject>> {
    if (typeof item !== 'string') throw new ScanError('unsupported_item', 'link preparer got an image item');
    const limits = { ...(this.options.maxUrlLength !== undefined && { maxLength: this.options.maxUrlLength }) };
    const canonical = canonicalize(item, limits);
    const subject: LinkSubject = { input: item, targets: [linkTarget(0, canonical)] };
    const seen = new Set([canonical.canonical]);
    const addTarget = (next: CanonicalUrl | undefined) => {
      if (next === undefined || seen.has(next.canonical)) return;
      seen.add(next.canonical);
      subject.targets.push(linkTarget(subject.targets.length, next));
    };
    // Safe Browsing's reading unescapes before it finds the host (`http://good.com%2F@evil.com/`
    // is good.com to it); the host a browser visits (evil.com) is matched too, fetched or not.
    const visited = FETCHED_SCHEMES.has(canonical.scheme) && !visitedAsRead(item) ? asVisited(item, canonical, limits) : undefined;
    addTarget(visited);
    const details: Record<string, unknown> = {
      canonical: canonical.canonical,
      host: canonical.host,
      registrableDomain: subject.targets[0]!.registrableDomain,
      ...((canonical.hadUserinfo || visited?.hadUserinfo) && { hadUserinfo: true }),
    };
    if (!FETCHED_SCHEMES.has(canonical.scheme) || this.options.unfurl === false) {
      if (!FETCHED_SCHEMES.has(canonical.scheme)) details.notFetched = `${canonical.scheme}: links are judged without fetching`;
      return { subject, details };
    }

    const { unfurlCache, unfurlOptions } = this.options;
    const result = unfurlCache ? await unfurlCache.unfurl(item, canonical, unfurlOptions) : await unfurl(item, unfurlOptions);
    subject.unfurl = result;
    // Each hop is matched in the canonical form the unfurler built from what it fetched.
    for (const hop of result.chain) addTarget(reachedCanonical(hop.url, hop.canonical));
    if (result.final && !result.final.fetched) addTarget(reachedCanonical(result.final.url, result.final.canonical));
    details.chain = result.chain.map((hop) => ({ url: hop.url, status: hop.status, address: hop.address, durationMs: hop.durationMs, ...(hop.redirect && { redirect: hop.redirect.kind }) }));
    if (result.final) details.final = result.final.canonical ?? result.final.url;
    if (result.warnings.length) details.warnings = result.warnings;
    return { subject, details, ...(result.error && { errors: [result.error] }) };
  }
}

/** The link as a browser reads it, canonicalised without userinfo; undefined when unusable. */
function asVisited(item: string, canonical: CanonicalUrl, limits: CanonicalizeOptions): CanonicalUrl | undefined {
  const url = parseLikeBrowser(item, canonical.scheme);
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined;
  try {
    return canonicalizeParsed(url, limits);
  } catch {
    return undefined; // the unfurler reports why it cannot fetch it
  }
}

/**
 * What to match for a URL the chain reached: the canonical form the unfurler recorded, or, when
 * it recorded none (a redirect to a URL longer than the limit), the URL without its query, or
 * without its path too, so host and domain entries still match it. A cut URL has the same host
 * suffixes and fewer path prefixes than the whole URL: it never matches what the whole would not.
 */
function reachedCanonical(url: string, canonical: string | null): CanonicalUrl | undefined {
  if (canonical !== null) {
    try {
      return canonicalize(canonical);
    } catch {
      // too long for the default limit: cut below
    }
  }
  let cut: URL;
  try {
    cut = new URL(url);
  } catch {
    return undefined; // the unfurler already reported why this URL is unusable
  }
  cut.search = '';
  for (const keepPath of [true, false]) {
    if (!keepPath) cut.pathname = '/';
    try {
      return canonicalizeParsed(cut);
    } catch {
      // still too long, or not a URL we canonicalise
    }
  }
  return undefined;
}

/** A URL of a link's chain, ready for matching: its expressions and registrable domain. */
export function linkTarget(hop: number, canonical: CanonicalUrl): LinkTarget {
  return new PreparedTarget(hop, canonical, hostSuffixes(canonical.host, canonical.hostIsIp), pathPrefixes(canonical.path, canonical.query), registrableDomainOf(canonical));
}

/**
 * A LinkTarget whose `expressions` are built from `hosts` x `paths` on first read (then kept):
 * matching builds only the few it looks up, so most targets never build the list (up to 30
 * concatenations per URL).
 */
class PreparedTarget implements LinkTarget {
  private built: string[] | undefined;

  constructor(
    public hop: number,
    public canonical: CanonicalUrl,
    public hosts: readonly string[],
    public paths: readonly string[],
    public registrableDomain: string | null,
  ) {}

  get expressions(): string[] {
    return (this.built ??= expressionsOf(this.hosts, this.paths));
  }
}
