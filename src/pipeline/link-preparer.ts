import { ScanError, toScanError, type ErrorInfo } from '../errors.js';
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
  /**
   * True when `canonical` is a URL cut to fit the length limit (to its host and a directory, see
   * canonicalOrCut): the whole URL reached is another page, so it is matched by expression (host
   * suffix, path prefix) and domain only, never as an exact URL. Absent otherwise.
   */
  cut?: boolean;
}

/** What link signal types read: the link as given and every URL its chain reached. */
export interface LinkSubject {
  input: string;
  /**
   * The input first (Safe Browsing's reading), then the input as a browser reads it when that
   * differs (`http://good.com%2F@evil.com/`), then each further URL of the chain, then where a
   * page's other refresh sends Firefox when browsers differ (hop.redirect.alternate), without repeats.
   */
  targets: LinkTarget[];
  /** Present when the link was unfurled (http/https and unfurling on). */
  unfurl?: UnfurlResult;
}

export interface LinkPreparerOptions {
  /** Follow http(s) links through redirects and meta refresh. Default true. */
  unfurl?: boolean;
  /** Its `maxUrlLength` defaults to the preparer's. */
  unfurlOptions?: UnfurlOptions;
  /**
   * Longest link, in characters (as the job's URL limit counts them: pass the same), and longest
   * URL derived from it (its browser href, each hop) matched whole; a longer derived URL is
   * matched cut to fit. Default 8192.
   */
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

  /** The unfurler's options; its URL limit defaults to the preparer's. */
  private readonly unfurlOptions: UnfurlOptions | undefined;
  /** Canonicalization limits of every link and hop (built once, not per link). */
  private readonly limits: CanonicalizeOptions;

  constructor(private readonly options: LinkPreparerOptions = {}) {
    const { maxUrlLength, unfurlOptions } = options;
    this.unfurlOptions = maxUrlLength !== undefined && unfurlOptions?.maxUrlLength === undefined ? { ...unfurlOptions, maxUrlLength } : unfurlOptions;
    this.limits = maxUrlLength !== undefined ? { maxLength: maxUrlLength } : {};
  }

  async prepare(item: ScanItem, _index?: number, signal?: AbortSignal): Promise<PreparedItem<LinkSubject>> {
    if (typeof item !== 'string') throw new ScanError('unsupported_item', 'link preparer got an image item');
    const { limits } = this;
    // Counted in characters, as the job's URL limit is: a link a job accepts always canonicalises.
    const canonical = canonicalize(item, limits);
    const subject: LinkSubject = { input: item, targets: [linkTarget(0, canonical)] };
    // Canonical form -> its target, to add each URL once.
    const seen = new Map<string, LinkTarget>([[canonical.canonical, subject.targets[0]!]]);
    const addTarget = (next: Reached | undefined) => {
      if (next === undefined) return;
      const known = seen.get(next.canonical.canonical);
      if (known !== undefined) {
        // That very URL reached whole after a cut one of the same form: it is an exact page now.
        if (known.cut && !next.cut) delete known.cut;
        return;
      }
      // A URL cut to its host adds nothing to a target with that host: that one matches every host
      // and domain entry the cut would (and its own allowlisted path is not lost to the cut).
      if (next.cut && next.canonical.path === '/' && subject.targets.some((t) => t.canonical.host === next.canonical.host)) return;
      const target = linkTarget(subject.targets.length, next.canonical, next.cut);
      seen.set(next.canonical.canonical, target);
      subject.targets.push(target);
    };
    const errors: ErrorInfo[] = [];
    // Safe Browsing's reading unescapes before it finds the host (`http://good.com%2F@evil.com/`
    // is good.com to it); the host a browser visits (evil.com) is matched too, fetched or not.
    // The browser's href percent-encodes what the link has raw (`ж` is `%D0%B6`), so it may be
    // over the limit when the link is not: it is matched cut, and never dropped without an error.
    const visited = FETCHED_SCHEMES.has(canonical.scheme) && !visitedAsRead(item) ? asVisited(item, canonical, limits) : undefined;
    if (visited !== undefined && 'error' in visited) errors.push(visited.error.toInfo());
    else addTarget(visited);
    const details: Record<string, unknown> = {
      canonical: canonical.canonical,
      host: canonical.host,
      registrableDomain: subject.targets[0]!.registrableDomain,
      ...((canonical.hadUserinfo || visited?.hadUserinfo) && { hadUserinfo: true }),
      // Where a browser goes when that is not the Safe Browsing reading above (`%2F@` links):
      // `host` and `canonical` name the reading lists use, which a reader would take for the site.
      ...(visited !== undefined && 'cut' in visited && visited.canonical.canonical !== canonical.canonical && { [visited.cut ? 'visitedCut' : 'visited']: visited.canonical.canonical }),
    };
    if (!FETCHED_SCHEMES.has(canonical.scheme) || this.options.unfurl === false) {
      if (!FETCHED_SCHEMES.has(canonical.scheme)) details.notFetched = `${canonical.scheme}: links are judged without fetching`;
      return { subject, details, ...(errors.length && { errors }) };
    }

    const { unfurlCache } = this.options;
    // The job's signal: a job given up stops its unfurls.
    const unfurlOptions = signal ? { ...this.unfurlOptions, signal } : this.unfurlOptions;
    const result = unfurlCache ? await unfurlCache.unfurl(item, canonical, unfurlOptions) : await unfurl(item, unfurlOptions);
    subject.unfurl = result;
    // Each hop is matched in the canonical form the unfurler built from what it fetched.
    for (const hop of result.chain) addTarget(reachedCanonical(hop.url, hop.canonical, limits));
    if (result.final && !result.final.fetched) addTarget(reachedCanonical(result.final.url, result.final.canonical, limits));
    // Where browsers that take a page's other refresh go (Firefox, when it and Chromium differ):
    // not fetched, but a user of that browser lands there, so it is matched as well.
    for (const hop of result.chain) if (hop.redirect?.alternate) addTarget(reachedCanonical(hop.redirect.alternate, null, limits));
    details.chain = result.chain.map((hop) => ({ url: hop.url, status: hop.status, address: hop.address, durationMs: hop.durationMs, ...(hop.redirect && { redirect: hop.redirect.kind }) }));
    if (result.final) details.final = result.final.canonical ?? result.final.url;
    if (result.warnings.length) details.warnings = result.warnings;
    // The unfurler meets the visited form first: its error says the same, once is enough.
    if (result.error && !errors.some((error) => error.code === result.error!.code)) errors.push(result.error);
    return { subject, details, ...(errors.length && { errors }) };
  }
}

/** A URL to match, and whether it was cut to fit the length limit. */
interface Reached {
  canonical: CanonicalUrl;
  cut: boolean;
}

/**
 * The link as a browser reads it, canonicalised without userinfo (cut when too long: see
 * canonicalOrCut); undefined when a browser would not visit it, and the error when not even its
 * host can be matched.
 */
function asVisited(item: string, canonical: CanonicalUrl, limits: CanonicalizeOptions): (Reached | { error: ScanError }) & { hadUserinfo: boolean } | undefined {
  const url = parseLikeBrowser(item, canonical.scheme);
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined;
  return { ...canonicalOrCut(url, limits), hadUserinfo: url.username !== '' || url.password !== '' };
}

/**
 * The canonical form of a WHATWG-parsed URL; when that is longer than the limit, of the URL cut
 * to fit: without its query, then with its path cut back to each directory that Safe Browsing
 * builds an expression of (`/a/b/c/`, `/a/b/`, `/a/`), down to `/`. A cut URL has the host of the
 * whole URL and a subset of its path prefixes, so it matches host, domain and directory entries,
 * never an exact path or query the whole would not. The first error when not even
 * `scheme://host/` fits (or the URL is not one we canonicalise).
 */
function canonicalOrCut(url: URL, limits: CanonicalizeOptions): Reached | { error: ScanError } {
  let first: ScanError;
  try {
    return { canonical: canonicalizeParsed(url, limits), cut: false };
  } catch (error) {
    first = toScanError(error);
  }
  const cut = new URL(url.href);
  cut.search = '';
  const path = cut.pathname;
  // pathPrefixes: the path itself, then its directories from the root; tried longest first.
  for (const keep of [path, ...pathPrefixes(path).slice(1).reverse()]) {
    cut.pathname = keep;
    try {
      return { canonical: canonicalizeParsed(cut, limits), cut: true };
    } catch {
      // still too long, or not a URL we canonicalise
    }
  }
  return { error: first };
}

/**
 * What to match for a URL the chain reached: the canonical form the unfurler recorded, or, when
 * it recorded none (a redirect to a URL longer than the limit), the URL cut to fit (see
 * canonicalOrCut), so host and domain entries still match it. The unfurler reports why a URL it
 * reached is unusable or too long.
 */
function reachedCanonical(url: string, canonical: string | null, limits: CanonicalizeOptions): Reached | undefined {
  if (canonical !== null) {
    try {
      return { canonical: canonicalize(canonical, limits), cut: false };
    } catch {
      // too long for the limit: cut below
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined; // the unfurler already reported why this URL is unusable
  }
  const reached = canonicalOrCut(parsed, limits);
  return 'error' in reached ? undefined : reached;
}

/**
 * A URL of a link's chain, ready for matching: its expressions and registrable domain. `cut`: it
 * is a longer URL cut to fit (see LinkTarget.cut).
 */
export function linkTarget(hop: number, canonical: CanonicalUrl, cut = false): LinkTarget {
  const target = new PreparedTarget(hop, canonical, hostSuffixes(canonical.host, canonical.hostIsIp), pathPrefixes(canonical.path, canonical.query), registrableDomainOf(canonical));
  if (cut) target.cut = true;
  return target;
}

/**
 * A LinkTarget whose `expressions` are built from `hosts` x `paths` on first read (then kept):
 * matching builds only the few it looks up, so most targets never build the list (up to 30
 * concatenations per URL).
 */
class PreparedTarget implements LinkTarget {
  private built: string[] | undefined;
  cut?: boolean;

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
