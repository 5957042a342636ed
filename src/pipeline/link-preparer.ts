import { ScanError, toScanError, type ErrorInfo } from '../errors.js';
import type { ScanItem } from '../jobs/job-schema.js';
import { canonicalize, canonicalizeParsed, DEFAULT_MAX_URL_LENGTH, parseLikeBrowser, visitedAsRead, type CanonicalizeOptions, type CanonicalUrl } from '../links/canonicalize.js';
import { expressionsOf, hostSuffixes, pathPrefixes } from '../links/expressions.js';
import { registrableDomainOf } from '../links/registrable-domain.js';
import { DEFAULT_UNFURL_TOTAL_TIMEOUT_MS, unfurl, type UnfurlOptions, type UnfurlResult } from '../links/unfurl.js';
import { DEFAULT_MAX_REDIRECTS } from '../links/guard/redirects.js';
import type { UnfurlCache } from '../links/unfurl-cache.js';
import { recordedUrl } from '../links/recorded-url.js';
import { intentWebPages, unwrapBrowserLink } from '../links/browser-links.js';
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
   * cutToFit): the whole URL reached is another page, so it is matched by expression (host
   * suffix, path prefix) and domain only, never as an exact URL. Absent otherwise.
   */
  cut?: boolean;
  /**
   * False when no browser can visit the link (`http://a b.com/`): Safe Browsing's reading still
   * names a host for lists to match, but no page is there to judge, so the URL models skip it.
   * Absent otherwise.
   */
  visitable?: false;
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
  /**
   * Present when the link was unfurled (unfurling on, and the link opens a web page: an http(s)
   * link, a browser wrapper's URL, an `intent:` link's web URL; the first when it has two).
   */
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

/** Steps the time left for a link's later web URL is rounded down to (see prepare). */
const TIME_LEFT_STEP_MS = 100;

/**
 * Unfurl warnings kept in a verdict's details, per hop: a hop gives a few at most (an unusable
 * refresh ignored, refreshes or a 300 browsers disagree on, a fallback to http); more (a bug)
 * are counted, not kept.
 */
const DETAIL_WARNINGS_PER_HOP = 4;

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
    // Control characters escaped, as a browser's href has them: `http://evil.example/\x01x` is evil.example.
    this.limits = { controlCharacters: 'escape', ...(maxUrlLength !== undefined && { maxLength: maxUrlLength }) };
  }

  async prepare(item: ScanItem, _index?: number, signal?: AbortSignal): Promise<PreparedItem<LinkSubject>> {
    const { subject, details, errors, canonical, addTarget, opens } = this.ownUrl(item);
    if (opens.length === 0 || this.options.unfurl === false) {
      if (opens.length === 0) details.notFetched = `${canonical.scheme}: links are judged without fetching`;
      return { subject, details, ...(errors.length && { errors }) };
    }
    const { limits } = this;
    const { unfurlCache } = this.options;
    // The job's signal: a job given up stops its unfurls.
    const unfurlOptions = signal ? { ...this.unfurlOptions, signal } : this.unfurlOptions;
    // The unfurler ends a chain at its redirect limit (one hop more than maxRedirects at most, a
    // fallback to http counting as a redirect); a chain beyond that (a bug) is kept out of the
    // verdict, which is stored and streamed: its first hops, and how many were left out.
    const maxHops = (this.unfurlOptions?.maxRedirects ?? DEFAULT_MAX_REDIRECTS) + 1;
    // The chain kept of a link, every page it opens together: twice the hops of one (see below).
    const maxChain = 2 * maxHops;
    // Warnings kept per page; twice that for the link.
    const maxWarnings = DETAIL_WARNINGS_PER_HOP * maxHops + 1;
    const chain: Array<Record<string, unknown>> = [];
    const warnings: string[] = [];
    let chainOmitted = 0;
    let warningsOmitted = 0;
    let final: string | undefined;
    const addError = (error: ErrorInfo) => {
      // The unfurler meets the visited form first: its error says the same, once is enough.
      if (!errors.some((known) => known.code === error.code)) errors.push(error);
    };
    // The pages Chrome itself may open, the link's own URL or an `intent:` link's
    // S.browser_fallback_url (shown when no app takes the intent) and http(s) data URL (opened by
    // Chrome itself when the intent names it, `package=com.android.chrome`), are unfurled at the
    // same time, each with the link's whole redirect limit and deadline: the scanner cannot know
    // which of the two Chrome opens, so neither may spend the other's budget (a page redirecting
    // to the limit, or stalling each hop just under the hop timeout, would hide the other), and
    // the link takes no longer than one unfurl. The decoys after them (other
    // browser_fallback_urls, which Android skips) are unfurled in turn within one more redirect
    // limit shared among them (the hops, and a request that failed, of the ones before count) and
    // what is left of the link's deadline. At most 3 x (maxRedirects + 1) requests in all.
    const totalTimeoutMs = this.unfurlOptions?.totalTimeoutMs ?? DEFAULT_UNFURL_TOTAL_TIMEOUT_MS;
    const deadline = performance.now() + totalTimeoutMs;
    const unfurlOpen = (open: WebUrl, options: UnfurlOptions | undefined) =>
      unfurlCache && open.canonical ? unfurlCache.unfurl(open.url, open.canonical, options) : unfurl(open.url, options);
    const record = (result: UnfurlResult) => {
      subject.unfurl ??= result;
      // Each hop is matched in the canonical form of the URL fetched (the hop's href), built again
      // from that URL, never from the recorded canonical string: canonicalising a canonical form
      // again is not a fixed point (a `\` decoded from `%5C` is then read as `/`).
      for (const hop of result.chain) addTarget(reachedCanonical(hop.url, hop.canonical, limits));
      if (result.final && !result.final.fetched) addTarget(reachedCanonical(result.final.url, result.final.canonical, limits));
      // Every URL a hop sent the browser to, fetched next or not: an https upgrade that failed at a
      // redirect target was abandoned for the link's http form (Chrome's fallback), but a browser
      // whose https attempt does not fail lands there (the unfurler's warning names it).
      for (const hop of result.chain) if (hop.redirect) addTarget(reachedCanonical(hop.redirect.location, null, limits));
      // Where browsers that take a page's other refresh go (Firefox, when it and Chromium differ):
      // not fetched, but a user of that browser lands there, so it is matched as well.
      for (const hop of result.chain) if (hop.redirect?.alternate) addTarget(reachedCanonical(hop.redirect.alternate, null, limits));
      // The link's chain, every URL it opens together, has at most twice the link's hops (the two
      // pages Chrome may open), each page's at most the link's: the decoys' hops come last.
      const kept = result.chain.slice(0, Math.max(0, Math.min(maxHops, maxChain - chain.length)));
      for (const hop of kept) {
        chain.push({
          url: recordedUrl(hop.url),
          // An https URL fetched for the http one (HSTS, Chrome's HTTPS-Upgrades): no server redirect.
          ...(hop.upgradedFrom && { upgradedFrom: recordedUrl(hop.upgradedFrom) }),
          status: hop.status,
          address: hop.address,
          durationMs: hop.durationMs,
          ...(hop.redirect && { redirect: hop.redirect.kind }),
        });
      }
      chainOmitted += result.chain.length - kept.length;
      // The first web URL's landing page (the link's own; an `intent:` link's first page's).
      if (result.final && final === undefined) final = recordedUrl(result.final.canonical ?? result.final.url);
      const keptWarnings = result.warnings.slice(0, Math.max(0, Math.min(maxWarnings, 2 * maxWarnings - warnings.length)));
      warnings.push(...keptWarnings);
      warningsOmitted += result.warnings.length - keptWarnings.length;
      if (result.error) addError(result.error);
    };
    // Recorded in the order of `opens` (Android's fallback, the data URL), whichever ends first.
    const primaries = opens.filter((open) => open.primary);
    for (const result of await Promise.all(primaries.map((open) => unfurlOpen(open, unfurlOptions)))) record(result);
    const decoys = opens.filter((open) => !open.primary);
    let hopsUsed = 0;
    for (const [index, open] of decoys.entries()) {
      let options = unfurlOptions;
      // A link whose first page is a decoy (its fallback only where Android does not read it):
      // that page is unfurled as the link's own.
      if (index > 0 || primaries.length > 0) {
        const hopsLeft = maxHops - hopsUsed;
        const msLeft = deadline - performance.now();
        if (hopsLeft <= 0) {
          addError(new ScanError('too_many_redirects', `more than ${maxHops - 1} redirects`, { maxRedirects: maxHops - 1, next: recordedUrl(open.url) }).toInfo());
          break;
        }
        if (msLeft < 1) {
          addError(new ScanError('fetch_timeout', `the link's ${totalTimeoutMs} ms unfurl deadline passed`, { url: recordedUrl(open.url) }).toInfo());
          break;
        }
        // The time left, rounded down to a tenth of a second: the unfurl cache keys results by
        // their settings (a result is served only to an unfurl given the same limits, never one
        // of a larger budget to a smaller), and so shares them between links a few milliseconds apart.
        const timeLeft = msLeft >= TIME_LEFT_STEP_MS ? Math.floor(msLeft / TIME_LEFT_STEP_MS) * TIME_LEFT_STEP_MS : Math.ceil(msLeft);
        options = { ...unfurlOptions, ...(hopsLeft < maxHops && { maxRedirects: hopsLeft - 1 }), totalTimeoutMs: timeLeft };
      }
      const result = await unfurlOpen(open, options);
      hopsUsed += result.chain.length + (result.error ? 1 : 0);
      record(result);
    }
    details.chain = chain;
    if (chainOmitted) details.chainOmitted = chainOmitted;
    if (final !== undefined) details.final = final;
    if (warnings.length) details.warnings = warnings;
    if (warningsOmitted) details.warningsOmitted = warningsOmitted;
    return { subject, details, ...(errors.length && { errors }) };
  }

  /**
   * The link prepared from what needs no network: its own URL (Safe Browsing's reading and the
   * browser's), never unfurled. For a link the job's deadline cut or never started; `why` goes in
   * `details.notFetched` when the link would have been unfurled.
   */
  prepareOffline(item: ScanItem, why: string): PreparedItem<LinkSubject> {
    const { subject, details, errors, canonical, opens } = this.ownUrl(item);
    if (opens.length === 0) details.notFetched = `${canonical.scheme}: links are judged without fetching`;
    else if (this.options.unfurl !== false) details.notFetched = why;
    return { subject, details, ...(errors.length && { errors }) };
  }

  /**
   * The link's own URL as targets (its Safe Browsing and browser readings, and the web URLs an
   * `intent:` link opens), how to add more, and the web URLs to unfurl (`opens`).
   */
  private ownUrl(item: ScanItem): { subject: LinkSubject; details: Record<string, unknown>; errors: ErrorInfo[]; canonical: CanonicalUrl; addTarget: (next: Reached | undefined) => void; opens: WebUrl[] } {
    if (typeof item !== 'string') throw new ScanError('unsupported_item', 'link preparer got an image item');
    const { limits } = this;
    // A browser wrapper (`microsoft-edge:https://evil.example/`) is the web URL it opens: that is
    // what canonicalize reads in it, and what is visited and unfurled.
    const web = unwrapBrowserLink(item) ?? item;
    // The web URLs an Android `intent:` link sends Chrome to (its S.browser_fallback_url, its
    // http(s) data URL): matched as URLs the link leads to, like a redirect's target.
    const intentPages = intentWebPages(item);
    const intentUrls = intentPages.urls;
    // Counted in characters, as the job's URL limit is: a link a job accepts always canonicalises,
    // but for an `intent:` link naming no host (`intent:#Intent;...`): then the first web URL it
    // opens stands for it, and why its own URL is not matched is a partial error.
    let canonical: CanonicalUrl;
    let ownError: ErrorInfo | undefined;
    try {
      canonical = canonicalize(item, limits);
    } catch (error) {
      const opened = intentUrls.length ? canonicalOrUndefined(intentUrls[0]!, limits) : undefined;
      if (opened === undefined) throw error;
      canonical = opened;
      ownError = toScanError(error).toInfo();
    }
    // The link is itself a web URL (or wraps one): visited as a browser reads it, and unfurled.
    const linkIsWeb = ownError === undefined && FETCHED_SCHEMES.has(canonical.scheme);
    const subject: LinkSubject = { input: item, targets: [linkTarget(0, canonical)] };
    // Canonical form (and whether it is cut) -> its target, to add each URL once. A cut target
    // stands for a longer page than its canonical form names, so it is never merged with the
    // whole URL of that form (nor the whole one with it): an exact-URL or path allowlist entry
    // covering the one says nothing of the other.
    const key = (canonical: CanonicalUrl, cut: boolean) => (cut ? `cut ${canonical.canonical}` : canonical.canonical);
    const seen = new Set<string>([key(canonical, false)]);
    const addTarget = (next: Reached | undefined) => {
      if (next === undefined) return;
      const id = key(next.canonical, next.cut);
      // A cut URL whose whole canonical form is a target already (the link itself, whose limit
      // is on its characters, not its href's) is that very page, matched whole: nothing to add.
      if (seen.has(id) || (next.cut && seen.has(next.whole))) return;
      // A cut target is kept even when another target has its host: that one may be allowlisted
      // by a path or URL entry the cut page is not under, and then only the cut target gets the
      // host and domain checks the cut page needs.
      seen.add(id);
      subject.targets.push(linkTarget(subject.targets.length, next.canonical, next.cut));
    };
    const errors: ErrorInfo[] = ownError ? [ownError] : [];
    // Safe Browsing's reading unescapes before it finds the host (`http://good.com%2F@evil.com/`
    // is good.com to it); the host a browser visits (evil.com) is matched too, fetched or not.
    // The browser's href percent-encodes what the link has raw (`ж` is `%D0%B6`), so it may be
    // over the limit when the link is not: it is matched cut, and never dropped without an error.
    const visited = linkIsWeb && !visitedAsRead(web) ? asVisited(web, canonical, limits) : undefined;
    if (visited !== undefined && 'error' in visited) {
      errors.push(visited.error.toInfo());
      if (visited.unvisitable) subject.targets[0]!.visitable = false;
    } else addTarget(visited);
    for (const url of intentUrls) addTarget(reachedCanonical(url, null, limits));
    const opens: WebUrl[] = linkIsWeb
      ? [{ url: web, canonical: web === item ? canonical : { ...canonical, input: web }, primary: true }]
      : intentUrls.map((url, index) => ({ url, canonical: canonicalOrUndefined(url, limits), primary: index < intentPages.primary }));
    const details: Record<string, unknown> = {
      canonical: canonical.canonical,
      host: canonical.host,
      registrableDomain: subject.targets[0]!.registrableDomain,
      ...((canonical.hadUserinfo || visited?.hadUserinfo) && { hadUserinfo: true }),
      // Where a browser goes when that is not the Safe Browsing reading above (`%2F@` links):
      // `host` and `canonical` name the reading lists use, which a reader would take for the site.
      ...(visited !== undefined && 'cut' in visited && visited.canonical.canonical !== canonical.canonical && { [visited.cut ? 'visitedCut' : 'visited']: visited.canonical.canonical }),
      ...(intentUrls.length && { opens: intentUrls.map(recordedUrl) }),
    };
    return { subject, details, errors, canonical, addTarget, opens };
  }
}

/**
 * A web URL a link opens, to unfurl; `canonical` (the unfurl cache's key) unless too long;
 * `primary`: a page Chrome itself may open (the link's own, an `intent:` link's Android fallback
 * or data URL), given the link's whole unfurl budget; false for an `intent:` link's decoys.
 */
interface WebUrl {
  url: string;
  canonical: CanonicalUrl | undefined;
  primary: boolean;
}

function canonicalOrUndefined(url: string, limits: CanonicalizeOptions): CanonicalUrl | undefined {
  try {
    return canonicalize(url, limits);
  } catch {
    return undefined;
  }
}

/** A URL to match, and whether it was cut to fit the length limit. */
interface Reached {
  canonical: CanonicalUrl;
  cut: boolean;
  /** The canonical form of the whole URL (that of `canonical` unless cut). */
  whole: string;
}

/**
 * The link as a browser reads it, canonicalised without userinfo (cut when too long: see
 * cutToFit); undefined when a browser would not visit it, and the error when not even its
 * host can be matched (`unvisitable` when no browser can parse the link at all).
 */
function asVisited(item: string, canonical: CanonicalUrl, limits: CanonicalizeOptions): (Reached | { error: ScanError; unvisitable?: true }) & { hadUserinfo: boolean } | undefined {
  const url = parseLikeBrowser(item, canonical.scheme);
  // Not a URL a browser could visit (`http://a b.com/`, `http://1.2.3.4.5/`): the error the
  // unfurler gives, also when unfurling is off, where the item used to pass as checked and clean.
  if (url === null) return { error: new ScanError('invalid_url', 'the URL cannot be parsed for fetching', { url: recordedUrl(item) }), unvisitable: true, hadUserinfo: false };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return { ...canonicalOrCut(url, limits), hadUserinfo: url.username !== '' || url.password !== '' };
}

/** The URL limit of `limits`, in characters. */
function limitOf(limits: CanonicalizeOptions): number {
  return limits.maxLength ?? DEFAULT_MAX_URL_LENGTH;
}

/**
 * The canonical form of a WHATWG-parsed URL derived from a link (its browser href, a hop), cut to
 * fit the limit when longer (see cutToFit). The href is canonicalised whole first: it is bounded
 * by where it comes from (a link within the limit, a URL the unfurler accepted), and only its
 * canonical form says which page it is (`%2F..%2F` in the href resolves there), so the canonical
 * form's length decides whether it is cut, and a cut keeps a directory of the canonical path.
 * The error when it is not a URL we canonicalise or not even `scheme://host/` fits.
 */
function canonicalOrCut(url: URL, limits: CanonicalizeOptions): Reached | { error: ScanError } {
  let whole: CanonicalUrl;
  try {
    whole = canonicalizeParsed(url, { ...limits, maxLength: Math.max(limitOf(limits), url.href.length) });
  } catch (error) {
    return { error: toScanError(error) };
  }
  return cutToFit(whole, limitOf(limits));
}

/**
 * `whole` when its canonical form fits `maxLength`; else `whole` cut to fit: without its query,
 * then with its canonical path cut back to each directory that Safe Browsing builds an expression
 * of (`/a/b/c/`, `/a/b/`, `/a/`), down to `/`. The cut form is built from `whole`'s parts, never by
 * canonicalising again (not a fixed point, see canonicalize.ts), so it has the host of the whole
 * URL and a subset of its path prefixes: it matches host, domain and directory entries, never an
 * exact path or query the whole would not. url_too_long when not even `scheme://host/` fits.
 */
function cutToFit(whole: CanonicalUrl, maxLength: number): Reached | { error: ScanError } {
  if (whole.canonical.length <= maxLength) return { canonical: whole, cut: false, whole: whole.canonical };
  const origin = `${whole.scheme}://${whole.host}`;
  // pathPrefixes: the path itself, then its directories from the root; tried longest first.
  for (const keep of [whole.path, ...pathPrefixes(whole.path).slice(1).reverse()]) {
    const canonical = origin + keep;
    if (canonical.length > maxLength) continue;
    const { query: _query, ...rest } = whole;
    return { canonical: { ...rest, canonical, path: keep }, cut: true, whole: whole.canonical };
  }
  return { error: new ScanError('url_too_long', undefined, { length: whole.canonical.length, maxLength }) };
}

/**
 * What to match for a URL the chain reached: the canonical form of that URL (its href, parsed
 * again), cut to fit the limit when longer (see cutToFit), so host and domain entries still match
 * it. `canonical` (what the unfurler recorded) only says whether the unfurler could read a URL
 * WHATWG refuses: that is then canonicalised from its text as the unfurler did. The unfurler
 * reports why a URL it reached is unusable or too long.
 */
function reachedCanonical(url: string, canonical: string | null, limits: CanonicalizeOptions): Reached | undefined {
  let reached: Reached | { error: ScanError };
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined) {
    reached = canonicalOrCut(parsed, limits);
  } else {
    if (canonical === null) return undefined; // the unfurler already reported why this URL is unusable
    try {
      reached = cutToFit(canonicalize(url, { ...limits, maxLength: Math.max(limitOf(limits), url.length) }), limitOf(limits));
    } catch {
      return undefined;
    }
  }
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
  visitable?: false;

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
