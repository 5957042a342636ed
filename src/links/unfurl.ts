import type { Readable } from 'node:stream';
import { ScanError } from '../errors.js';
import { deadlineSignal } from '../runtime/deadline-signal.js';
import { canonicalize, canonicalizeParsed, DEFAULT_MAX_URL_LENGTH, parseLikeBrowser, type CanonicalUrl } from './canonicalize.js';
import { CookieJar } from './cookie-jar.js';
import { parseIpLiteral } from './ip-literal.js';
import { createAddressPolicy, warnOverrideInUse, type AddressPolicy } from './guard/address-policy.js';
import { discardBody, readBodyPrefix } from './guard/body-cap.js';
import { createGuardedAgent, effectivePort, originKey } from './guard/connector.js';
import { acquireFetchSlot, processAddressLimiter, processHostLimiter, type HostLimiter } from './guard/host-limiter.js';
import { headerText } from './guard/header-text.js';
import { contentTypeCharset, decodeHtml, getEncoding, parseUrlWithEncoding, sniffHtmlEncoding } from './guard/html-encoding.js';
import { metaRefreshes, parseRefreshContent, RefreshScanTooComplex, type DocumentSyntax, type MetaRefresh } from './guard/meta-refresh.js';
import { extractMimeType, isUnknownMimeType, isXmlMimeType, mimeEssence, responseContentType } from './guard/mime-type.js';
import { toNetworkError } from './guard/network-errors.js';
import { DEFAULT_MAX_REDIRECTS, httpsUpgradeOf, loopKey, MULTIPLE_CHOICES_STATUS, REDIRECT_STATUSES, RedirectTracker, resolveLocation, type TrackerSnapshot } from './guard/redirects.js';
import type { UnfurlHop, UnfurlOptions, UnfurlResult } from './unfurl-types.js';
import { recordedUrl } from './recorded-url.js';
import { registrableDomain } from './registrable-domain.js';
import { navigationHeaders, userAgentProblem, type NavigationContext } from './user-agent.js';

export type { UnfurlHop, UnfurlOptions, UnfurlResult, UnfurlTarget } from './unfurl-types.js';

/**
 * Follows a link the way a victim's browser would (HTTP redirects and meta refresh, with the
 * chain's own cookies: see CookieJar), recording every hop, without ever letting the link reach
 * the worker's own network. Never throws for a bad URL or a network failure: the chain so far
 * comes back with a typed error, so the caller can still match every URL that was reached. Only a programming error (a malformed
 * `allowPrivateAddressesFor`) throws, and `signal` rejects with its reason: the caller gave up.
 */

/** A chain's deadline when its options name none (UnfurlOptions.totalTimeoutMs). */
export const DEFAULT_UNFURL_TOTAL_TIMEOUT_MS = 20_000;

const DEFAULTS = {
  hopTimeoutMs: 5_000,
  totalTimeoutMs: DEFAULT_UNFURL_TOTAL_TIMEOUT_MS,
  maxBodyBytes: 64 * 1024,
};

/**
 * How long Chrome's HTTPS-Upgrades wait for the upgraded navigation's response (its redirects
 * included) before falling back to http: HttpsUpgradesNavigationThrottle's fallback delay.
 */
export const HTTPS_UPGRADE_FALLBACK_DELAY_MS = 3_000;

interface Target {
  url: URL;
  canonical: CanonicalUrl;
  /** The http URL this https one is fetched for (see httpsUpgradeOf). */
  upgradedFrom?: URL;
}

/**
 * Chrome's HTTPS-Upgrades within one navigation (a link followed through its HTTP redirects; a
 * refresh starts another): HttpsUpgradesInterceptor's state.
 */
interface UpgradeState {
  /** The http URL upgraded last, fetched instead if the navigation fails before a page commits; unset once used. */
  fallback?: Target;
  /** The https URL `fallback` was upgraded to. */
  upgraded: URL;
  /** The URLs the chain had visited before `fallback` was upgraded: a fallback goes back to them (RedirectTracker.fallBack). */
  visitedBefore: TrackerSnapshot;
  /** The redirects counted when the upgrade began: a fallback from an attempt that followed none only replaces the upgrade. */
  redirectsBefore: number;
  /** When Chrome's fallback timer fires (performance.now()): past it the upgraded attempt is given up. */
  deadline: number;
  /** http URLs (loopKey) upgraded in this navigation: one met again is fetched over http (a redirect loop). */
  seen: Set<string>;
}

/** The navigation under way, for the Sec-Fetch-* headers. */
interface Navigation extends NavigationContext {
  /** The page that started it (a refresh), or null: a link clicked on another site. */
  initiator: URL | null;
}

interface Run {
  options: UnfurlOptions;
  policy: AddressPolicy;
  result: UnfurlResult;
  deadline: number;
  /** When the hop under way times out: its connections get no more time than that. */
  hopDeadline: number;
  peers: Map<string, string>;
  tracker: RedirectTracker;
  /** This chain's cookies only: never shared with another unfurl. */
  cookies: CookieJar;
  /** Pages (loopKey) this chain reloaded for their own refresh: each is reloaded at most once. */
  reloaded: Set<string>;
  hostLimiter: HostLimiter;
  /** Chrome's HTTPS-Upgrades in the navigation under way; undefined when nothing was upgraded in it. */
  upgrade?: UpgradeState;
  /** Hosts whose upgrade fell back to http: Chrome does not upgrade them again (it allowlists them). */
  httpAllowed: Set<string>;
  /** Set once the hop under way got a response that is not an HTTP redirect (a page a browser shows). */
  committed: boolean;
  navigation: Navigation;
  /**
   * Sends the request. `headersBy`: when the response headers must be in (performance.now()),
   * else the request is given up: an upgraded attempt's fallback timer.
   */
  request: (url: URL, signal: AbortSignal, timeoutMs: number, headersBy?: number) => Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: Readable }>;
}

/**
 * Each UTF-16 code unit of a link is at most 3 UTF-8 bytes, each written `%XX` in an href: the href
 * of a link within the character limit is at most this many times longer (a few characters more
 * for an added `http://` or trailing `/`, or an IDNA host: HREF_SLACK, and the input itself is
 * never refused for its href).
 */
export const HREF_CHARACTERS_PER_LINK_CHARACTER = 9;
const HREF_SLACK = 64;

/** Longest href fetched (a redirect target's, or what a link is fetched as) under `maxUrlLength`. */
export function maxHrefLength(maxUrlLength: number): number {
  return maxUrlLength * HREF_CHARACTERS_PER_LINK_CHARACTER + HREF_SLACK;
}

/**
 * How long the href of a URL fetched may be: that of a link of the job's URL limit
 * (maxHrefLength), except for the input (`isInput`) and its https form: a link within the limit
 * is fetched whatever its percent-encoded href grows to.
 */
function fetchedHrefLimit(run: Run, url: URL, isInput: boolean): number {
  const limit = maxHrefLength(run.options.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH);
  return isInput ? Math.max(limit, url.href.length) : limit;
}

/**
 * Checks a URL before any connection: parsable, http(s), not too long, not a refused literal IP.
 * The input (`isInput`) is limited in characters as given, as a job's URL limit counts them, and
 * fetched whatever its percent-encoded href grows to; a redirect target (already an href) is
 * limited to the href length of such a link (maxHrefLength).
 */
function prepareTarget(text: string, run: Run, isInput: boolean): Target {
  const maxUrlLength = run.options.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH;
  // Control characters escaped, as the browser's href has them (see canonicalize).
  const canonical = canonicalize(text, { maxLength: isInput ? maxUrlLength : maxHrefLength(maxUrlLength), controlCharacters: 'escape' });
  run.result.final = { url: text, canonical: canonical.canonical, fetched: false };
  if (canonical.scheme !== 'http' && canonical.scheme !== 'https') {
    throw new ScanError('unsupported_scheme', `${canonical.scheme}: URLs are not fetched`, { scheme: canonical.scheme });
  }
  const url = parseLikeBrowser(text, canonical.scheme);
  if (url === null) throw new ScanError('invalid_url', 'the URL cannot be parsed for fetching', { url: recordedUrl(text) });
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ScanError('unsupported_scheme', undefined, { scheme: url.protocol.slice(0, -1) });
  }
  // Hops record the canonical form of what is fetched, built from its parts: the raw text of
  // `http://a.com%2F@b.com/` canonicalises to host a.com, but b.com is the host reached.
  const fetched = canonicalizeParsed(url, { maxLength: fetchedHrefLimit(run, url, isInput) });
  run.result.final = { url: url.href, canonical: fetched.canonical, fetched: false };
  const literal = parseIpLiteral(url.hostname);
  if (literal) {
    const decision = run.policy.check(literal.address, effectivePort(url));
    if (!decision.allowed) {
      throw new ScanError('blocked_address', `refused to connect to ${literal.address} (${decision.verdict.range})`, {
        host: url.hostname,
        address: literal.address,
        range: decision.verdict.range,
      });
    }
  }
  return { url, canonical: fetched };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * How a body may hold a meta refresh: HTML syntax (`text/html`), XML syntax (`application/xhtml+xml`
 * and the other XML types: their XHTML-namespace `<meta>` refreshes too), or either when undeclared
 * or of an unknown type (`unknown/unknown`, `application/unknown`, `*\/*`), which browsers sniff:
 * 'sniff'. Undefined: the body is not a document that can refresh.
 */
function refreshSyntax(contentType: string | undefined): DocumentSyntax | 'sniff' | undefined {
  const mime = contentType === undefined ? null : extractMimeType(contentType);
  if (mime === null || isUnknownMimeType(mime)) return 'sniff';
  if (mimeEssence(mime) === 'text/html') return 'html';
  return isXmlMimeType(mime) ? 'xml' : undefined;
}

/**
 * The syntax a sniffed body is read in: XML when it starts (after whitespace) with `<?xml`, as the
 * MIME Sniffing rules for an unknown type read it (text/xml); HTML otherwise (a body they would
 * call text/plain is scanned as HTML all the same, erring on the side of seeing a refresh).
 */
function sniffedSyntax(bytes: Uint8Array): DocumentSyntax {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0c || bytes[i] === 0x0d || bytes[i] === 0x20)) i++;
  const xml = [0x3c, 0x3f, 0x78, 0x6d, 0x6c]; // <?xml
  return xml.every((byte, at) => bytes[i + at] === byte) ? 'xml' : 'html';
}

async function fetchHop(target: Target, run: Run): Promise<UnfurlHop> {
  const remaining = run.deadline - performance.now();
  if (remaining <= 0) throw new ScanError('fetch_timeout', 'the total unfurl deadline passed', { url: recordedUrl(target.url.href) });
  // Whole milliseconds: undici's timeouts take no fractions.
  const timeoutMs = Math.max(1, Math.ceil(Math.min(run.options.hopTimeoutMs ?? DEFAULTS.hopTimeoutMs, remaining)));
  run.hopDeadline = performance.now() + timeoutMs;
  run.committed = false;
  // An upgraded attempt that Chrome would fall back from: its connection, and its response
  // headers, must come within the fallback timer (the body of a page it shows need not).
  const headersBy = run.upgrade?.fallback ? run.upgrade.deadline : undefined;
  if (headersBy !== undefined) run.hopDeadline = Math.min(run.hopDeadline, headersBy);
  const { signal, dispose } = deadlineSignal(run.options.signal, timeoutMs);
  try {
    // Waiting for the host's slot spends this hop's (and the chain's) time, never extra time.
    const slot = await acquireFetchSlot(run.hostLimiter, target.url, signal);
    try {
      return await fetchHopWithSlot(target, run, signal, timeoutMs, headersBy);
    } finally {
      // Every path ends the body (read, discarded, or failed) before this: the request is over.
      slot.release();
    }
  } finally {
    dispose();
  }
}

async function fetchHopWithSlot(target: Target, run: Run, signal: AbortSignal, timeoutMs: number, headersBy: number | undefined): Promise<UnfurlHop> {
  const started = performance.now();
  const response = await run.request(target.url, signal, timeoutMs, headersBy);
  const { url } = target;
  const followed = REDIRECT_STATUSES.has(response.statusCode) && hasLocation(response.headers.location);
  // A page browsers show: the navigation commits (an https upgrade no longer falls back).
  run.committed = !followed;
  const cookiesBefore = run.cookies.version;
  run.cookies.store(url, response.headers['set-cookie']);
  // A reload of this page sends other cookies only if this response changed them.
  const cookiesChanged = run.cookies.version !== cookiesBefore;
  const address = run.peers.get(originKey(url.protocol, url.hostname, url.port)) ?? 'unknown';
  const hop: UnfurlHop = {
    url: url.href,
    ...(target.upgradedFrom && { upgradedFrom: target.upgradedFrom.href }),
    canonical: target.canonical.canonical,
    status: response.statusCode,
    address,
    durationMs: 0,
  };
  const contentType = responseContentType(response.headers['content-type']);
  if (contentType !== undefined) hop.contentType = contentType;
  if (run.policy.check(address, effectivePort(url)).overridden) hop.viaPrivateAddressOverride = true;
  run.result.chain.push(hop);
  run.result.final = { url: url.href, canonical: hop.canonical, fetched: true };

  try {
    if (followed) {
      discardBody(response.body);
      hop.redirect = { kind: 'http', location: resolveLocation(response.headers.location, url).href };
    } else {
      const firefoxLocation = response.statusCode === MULTIPLE_CHOICES_STATUS ? multipleChoicesLocation(response.headers.location, url) : undefined;
      if (run.options.followMetaRefresh ?? true) {
        await findRefresh(hop, target, response.statusCode, response.headers, response.body, cookiesChanged, run);
      } else {
        discardBody(response.body);
      }
      if (firefoxLocation) followMultipleChoices(hop, firefoxLocation, run);
    }
  } finally {
    hop.durationMs = Math.round(performance.now() - started);
  }
  return hop;
}

/**
 * Where Firefox goes from a 300 Multiple Choices: its Location, when there is one browsers could
 * follow (one value, an http(s) URL other than the page itself). Otherwise undefined: Firefox
 * shows the page too (a Location it cannot use fails its navigation; that is no page to match).
 */
function multipleChoicesLocation(location: string | string[] | undefined, page: URL): URL | undefined {
  if (!hasLocation(location)) return undefined;
  let target: URL;
  try {
    target = resolveLocation(location, page);
  } catch {
    return undefined;
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return undefined;
  return loopKey(target) === loopKey(page) ? undefined : target;
}

/**
 * A 300 with a usable Location (`location`): Firefox follows it, Chromium and WebKit show the
 * page, whose refresh (`hop.redirect`, when findRefresh found one that moves) then leads them on.
 * The chain follows what most browsers do, as chooseRefresh does: the refresh, the Location being
 * the alternate (matched, not fetched; Firefox never reads this page, so another refresh Firefox
 * alone would take is no alternate any more); with no refresh, Chromium stays on this page (in
 * the chain already) and the chain follows the Location.
 */
function followMultipleChoices(hop: UnfurlHop, location: URL, run: Run): void {
  const page = recordedUrl(hop.url);
  if (hop.redirect === undefined) {
    hop.redirect = { kind: 'http', location: location.href };
    run.result.warnings.push(`a 300 Multiple Choices at ${page}: followed its Location to ${recordedUrl(location.href)} as Firefox does (Chromium and WebKit show the page)`);
    return;
  }
  if (loopKey(new URL(hop.redirect.location)) === loopKey(location)) {
    delete hop.redirect.alternate;
    return;
  }
  hop.redirect.alternate = location.href;
  run.result.warnings.push(
    `a 300 Multiple Choices at ${page} sends browsers to different pages: Chromium and WebKit by its refresh to ${recordedUrl(hop.redirect.location)} (followed), Firefox by its Location to ${recordedUrl(location.href)} (matched, not fetched)`,
  );
}

/**
 * Whether a redirect status comes with a Location to follow. Without one, Fetch returns the
 * response as it is, not a redirect: browsers render its body, meta refresh included, so it is a
 * page here too. Chromium also takes a Location whose every copy is empty for none. Copies that
 * differ are still bad_redirect (resolveLocation), as Chromium refuses them.
 */
function hasLocation(location: string | string[] | undefined): boolean {
  const values = location === undefined ? [] : Array.isArray(location) ? location : [location];
  return values.some((value) => !/^[ \t]*$/.test(value));
}

/**
 * A refresh (Refresh header or meta) with valid content, its URL resolved against the document as
 * the standard reads it (`location`) and as Chromium and WebKit read it (`chromiumLocation`);
 * either is absent when that URL does not parse (that reader then ignores the refresh).
 */
interface RefreshCandidate {
  refresh: MetaRefresh;
  kind: 'refresh-header' | 'meta-refresh';
  location?: URL;
  chromiumLocation?: URL;
}

interface ChosenRefresh {
  refresh: MetaRefresh;
  kind: RefreshCandidate['kind'];
  location: URL;
}

/**
 * Where a page's refreshes send a browser, set as `hop.redirect`. The `Refresh` header counts
 * first (it is read before the document), then every meta refresh in an HTML body (within the
 * body cap), the body decoded in the page's encoding (see html-encoding.ts) and each URL parsed
 * with it. A refresh whose content is invalid or whose URL does not parse is ignored, as browsers
 * ignore it. The page is HTML by its Content-Type as browsers read it (responseContentType), or
 * when it declares none.
 *
 * A refresh of the page itself (no URL, or the page's own URL) reloads it: that is a move only
 * when this response changed the chain's cookies (`cookiesChanged`: a cookie gate that sets a
 * cookie and reloads, the reload getting another answer), and only once a page. It is then
 * followed like an HTTP redirect to the same URL; otherwise the reload would send the same
 * request again (or the page reloads itself over and over), and the chain ends at the page.
 *
 * Browsers do not agree on which of several refreshes wins: the HTML standard (and Firefox) act
 * on the first valid one, a reload included, and ignore the rest; Chromium and WebKit act on the
 * one with the shortest delay, the later one on a tie, and cut some URLs differently (see
 * MetaRefresh.chromiumUrl). Both outcomes are covered where one chain can: when one of them only
 * reloads the page (already in the chain, and no cookie changed), the other's target is followed;
 * when they send browsers to two different pages (a reload that changed cookies counts as one),
 * Chromium's and WebKit's (most browsers) is followed and a warning names the other.
 */
async function findRefresh(
  hop: UnfurlHop,
  target: Target,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Readable,
  cookiesChanged: boolean,
  run: Run,
): Promise<void> {
  const contentType = hop.contentType; // as browsers read it: responseContentType
  let html = '';
  let encoding: string;
  let networkError: unknown;
  let decodeError: string | undefined;
  let syntax = refreshSyntax(contentType);
  if (syntax !== undefined && status !== 204 && status !== 304) {
    const prefix = await readBodyPrefix(body, {
      contentEncoding: headers['content-encoding'],
      maxDecodedBytes: run.options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    });
    encoding = sniffHtmlEncoding(prefix.bytes, contentType, prefix.truncated).encoding;
    hop.body = { bytesRead: prefix.bytes.length, rawBytes: prefix.rawBytes, truncated: prefix.truncated, encoding };
    if (prefix.decodeError !== undefined) hop.body.decodeError = prefix.decodeError;
    networkError = prefix.networkError;
    decodeError = prefix.decodeError;
    html = decodeHtml(prefix.bytes, encoding);
    if (syntax === 'sniff') syntax = sniffedSyntax(prefix.bytes);
  } else {
    discardBody(body);
    const label = contentTypeCharset(contentType);
    encoding = (label === undefined ? undefined : getEncoding(label)) ?? 'utf-8';
  }

  const candidates: RefreshCandidate[] = [];
  let warned = false;
  const resolve = (url: string | undefined, refresh: MetaRefresh): URL | undefined => {
    if (url === undefined) return target.url;
    try {
      return parseUrlWithEncoding(url, documentBase(refresh.baseHref, target.url, encoding), encoding);
    } catch {
      return undefined;
    }
  };
  const consider = (refresh: MetaRefresh | null, kind: RefreshCandidate['kind']) => {
    if (refresh === null) return;
    const location = resolve(refresh.url, refresh);
    // Chromium reads an empty URL as the document's own, and most URLs as the standard does.
    const chromiumLocation = refresh.chromiumUrl === refresh.url ? location : resolve(refresh.chromiumUrl, refresh);
    if (location === undefined && chromiumLocation === undefined) {
      if (!warned) run.result.warnings.push(`ignored a ${kind} with an unusable URL at ${recordedUrl(target.url.href)}`);
      warned = true;
      return;
    }
    candidates.push({ refresh, kind, ...(location && { location }), ...(chromiumLocation && { chromiumLocation }) });
  };
  const header = headerValue(headers.refresh);
  if (header !== undefined) consider(parseRefreshContent(headerText(header), 'header'), 'refresh-header');
  try {
    for (const refresh of metaRefreshes(html, syntax === 'xml' ? 'xml' : 'html')) consider(refresh, 'meta-refresh');
  } catch (error) {
    if (!(error instanceof RefreshScanTooComplex)) throw error;
    throw new ScanError('page_too_complex', `the body of ${recordedUrl(target.url.href)} could not be read for refreshes (${error.message}): where it leads is unknown`, {
      url: recordedUrl(target.url.href),
    });
  }

  const chosen = chooseRefresh(candidates, target.url, cookiesChanged, run);
  if (chosen) {
    hop.redirect = { kind: chosen.kind, location: chosen.location.href, delaySeconds: chosen.refresh.delaySeconds, ...(chosen.alternate && { alternate: chosen.alternate.href }) };
    return;
  }
  // The unread rest of a body cut by the network may hold a refresh: the chain is not known to
  // end here, so it ends with a (transient, never cached) error rather than looking complete.
  if (networkError !== undefined) throw toNetworkError(networkError, { url: recordedUrl(target.url.href) });
  // So does a body we could not decode, which a browser may well show (zstd, sent though we did
  // not ask for it): a refresh hidden in it would otherwise leave the chain looking complete.
  if (decodeError !== undefined) {
    throw new ScanError('body_undecodable', `the body of ${recordedUrl(target.url.href)} could not be decoded (${decodeError}): a refresh in it would not be seen`, {
      url: recordedUrl(target.url.href),
      reason: decodeError,
    });
  }
}

/**
 * The refresh to follow among `candidates` (in document order), or undefined: see findRefresh.
 * `reloadMoves`: a refresh of the page itself counts as a move (the page changed the cookies).
 */
function chooseRefresh(candidates: readonly RefreshCandidate[], page: URL, reloadMoves: boolean, run: Run): (ChosenRefresh & { alternate?: URL }) | undefined {
  // The standard (Firefox): the first whose URL parses.
  const firstValid = candidates.find((candidate) => candidate.location !== undefined);
  const first = firstValid && { refresh: firstValid.refresh, kind: firstValid.kind, location: firstValid.location! };
  // Chromium and WebKit: the shortest delay, the later one on a tie; they refuse javascript: targets.
  let soonest: ChosenRefresh | undefined;
  for (const { refresh, kind, chromiumLocation } of candidates) {
    if (chromiumLocation === undefined || chromiumLocation.protocol === 'javascript:') continue;
    if (soonest === undefined || refresh.exactDelaySeconds <= soonest.refresh.exactDelaySeconds) soonest = { refresh, kind, location: chromiumLocation };
  }
  const pageKey = loopKey(page);
  // One reload a page: a gate needs one, and a page that sets a new cookie every time it
  // auto-reloads (a rotating session cookie and a 300 s refresh) ends quietly, not at the limit.
  const reloads = reloadMoves && !run.reloaded.has(pageKey);
  // loopKey ignores the fragment: a refresh to `#top` of the page counts as one to the page itself.
  const moves = (chosen: ChosenRefresh | undefined): chosen is ChosenRefresh => chosen !== undefined && (reloads || loopKey(chosen.location) !== pageKey);
  const followed = (chosen: ChosenRefresh): ChosenRefresh => {
    if (loopKey(chosen.location) === pageKey) run.reloaded.add(pageKey);
    return chosen;
  };
  if (!moves(first)) return moves(soonest) ? followed(soonest) : undefined;
  if (!moves(soonest) || loopKey(soonest.location) === loopKey(first.location)) return followed(first);
  run.result.warnings.push(
    `refreshes at ${recordedUrl(page.href)} send browsers to different pages: Chromium and WebKit to ${recordedUrl(soonest.location.href)} (followed), Firefox to ${recordedUrl(first.location.href)} (matched, not fetched)`,
  );
  return { ...soonest, alternate: first.location };
}

/**
 * The document base URL (HTML "frozen base URL"): `<base href>` resolved against the page URL, or
 * the page URL itself when there is none, it does not parse, or it is a data: or javascript: URL.
 */
function documentBase(baseHref: string | undefined, pageUrl: URL, encoding: string): URL {
  if (baseHref === undefined) return pageUrl;
  try {
    const base = parseUrlWithEncoding(baseHref, pageUrl, encoding);
    return base.protocol === 'data:' || base.protocol === 'javascript:' ? pageUrl : base;
  } catch {
    return pageUrl;
  }
}

/**
 * Sec-Fetch-Site of a request to `url` in `navigation` (Fetch: the least related of the URLs of
 * its redirect chain so far to the page that started it), recorded for the next redirect.
 */
function fetchSite(navigation: Navigation, url: URL): NavigationContext['site'] {
  const { initiator } = navigation;
  let site: NavigationContext['site'] = 'cross-site';
  if (initiator !== null) {
    if (initiator.origin === url.origin) site = 'same-origin';
    else if (initiator.protocol === url.protocol && (registrableDomain(initiator.hostname) ?? initiator.hostname) === (registrableDomain(url.hostname) ?? url.hostname)) site = 'same-site';
  }
  const order = ['same-origin', 'same-site', 'cross-site'] as const;
  if (order.indexOf(site) < order.indexOf(navigation.site)) site = navigation.site;
  navigation.site = site;
  return site;
}

/**
 * `target` as browsers fetch it (httpsUpgradeOf): over https for an HSTS-preloaded host; for
 * Chrome's HTTPS-Upgrades, over https first with `target` kept as the fallback, unless Chrome
 * would not upgrade it here: its host already fell back to http in this chain, an HTTP redirect
 * leads to it from its https form visited already (an https page sending browsers to its own
 * http form: Chrome meets its upgrade again and falls back to http), or it was upgraded before in
 * this navigation (a loop: Chrome then fetches the URL it upgraded last over http).
 */
function upgradeTarget(target: Target, run: Run, from: 'input' | 'redirect' | 'refresh'): Target {
  const upgrade = httpsUpgradeOf(target.url, run.options.httpsUpgradePortsForTesting);
  if (upgrade === undefined) return target;
  if (upgrade.kind === 'upgrade') {
    if (run.httpAllowed.has(target.url.hostname)) return target;
    const state = run.upgrade;
    if (state?.seen.has(loopKey(target.url))) {
      const fallback = state.fallback ?? target;
      state.fallback = undefined;
      run.httpAllowed.add(fallback.url.hostname);
      return fallback;
    }
    if (from === 'redirect' && run.tracker.wouldLoop(upgrade.url, run.cookies.version)) {
      run.httpAllowed.add(target.url.hostname);
      return target;
    }
    const now = performance.now();
    run.upgrade = {
      fallback: target,
      upgraded: upgrade.url,
      visitedBefore: run.tracker.snapshot(),
      // A redirect or refresh target is counted just after this (the follow of the upgraded URL).
      redirectsBefore: run.tracker.count + (from === 'input' ? 0 : 1),
      // Chrome's timer runs from the navigation's first upgrade; one that fired is set again.
      deadline: state && state.deadline > now ? state.deadline : now + HTTPS_UPGRADE_FALLBACK_DELAY_MS,
      seen: state?.seen ?? new Set(),
    };
    run.upgrade.seen.add(loopKey(target.url));
  }
  // The input's https form is fetched whatever its length, as the input itself is.
  const canonical = canonicalizeParsed(upgrade.url, { maxLength: fetchedHrefLimit(run, upgrade.url, from === 'input') });
  run.result.final = { url: upgrade.url.href, canonical: canonical.canonical, fetched: false };
  return { url: upgrade.url, canonical, upgradedFrom: target.url };
}

/**
 * Errors no fallback follows: the address guard's refusal (the http URL's host resolves the
 * same), and the chain's own limits, which are no failure of the https attempt: a fallback is a
 * redirect too (see RedirectTracker.fallBack), and falling back from them once let a chain of
 * http-only hosts go on past its limit for thousands of hops.
 */
const NO_FALLBACK_ERRORS: ReadonlySet<string> = new Set(['blocked_address', 'too_many_redirects', 'redirect_loop']);

/**
 * What a browser fetches when the navigation under way fails with `error` before a page commits:
 * with an https upgrade pending (Chrome's, not HSTS, which never falls back), the http URL it
 * upgraded last, for any failure (connection refused or reset, TLS, the fallback timer, an
 * unusable redirect...) but NO_FALLBACK_ERRORS and the chain's deadline. Undefined: the chain ends with
 * `error`. A fallback from an attempt that followed redirects counts as one more (Chrome serves it
 * as an artificial one), so it throws too_many_redirects past the limit; one from an attempt that
 * failed at its first URL only replaces the upgrade, which is not counted either, so an http-only
 * chain keeps the whole redirect limit. What the abandoned attempt visited no longer counts
 * for loops. Where that attempt failed stays in the chain (the last hop's redirect, which the link
 * preparer matches) and in the warning.
 */
function fallbackFor(error: unknown, run: Run): Target | undefined {
  const state = run.upgrade;
  const fallback = state?.fallback;
  if (state === undefined || fallback === undefined || run.committed || run.options.signal?.aborted) return undefined;
  const failure = toNetworkError(error, { url: recordedUrl(run.result.final?.url ?? fallback.url.href) });
  if (NO_FALLBACK_ERRORS.has(failure.code) || performance.now() >= run.deadline) return undefined;
  state.fallback = undefined;
  run.tracker.fallBack(fallback.url, run.cookies.version, state.visitedBefore, run.tracker.count > state.redirectsBefore);
  // Where the https attempt failed, when not at its first URL (a redirect target it was sent to).
  const abandoned = run.result.final?.url;
  const at = abandoned !== undefined && abandoned !== state.upgraded.href && abandoned !== fallback.url.href ? ` at ${recordedUrl(abandoned)}` : '';
  run.httpAllowed.add(fallback.url.hostname);
  run.result.warnings.push(`the https upgrade of ${recordedUrl(fallback.url.href)} failed${at} (${failure.code}): fetched it over http, as Chrome falls back`);
  run.result.final = { url: fallback.url.href, canonical: fallback.canonical.canonical, fetched: false };
  return fallback;
}

/** Follows `input` through redirects and meta refreshes; see UnfurlOptions for every limit. */
export async function unfurl(input: string, options: UnfurlOptions = {}): Promise<UnfurlResult> {
  options.signal?.throwIfAborted();
  if (options.userAgent !== undefined) {
    const problem = userAgentProblem(options.userAgent);
    if (problem !== undefined) throw new TypeError(`unfurl: the userAgent option ${problem}`);
  }
  const policy = createAddressPolicy(options.allowPrivateAddressesFor);
  const result: UnfurlResult = { input, chain: [], final: null, warnings: [], privateAddressOverride: policy.overrides.length > 0 };
  if (result.privateAddressOverride) {
    warnOverrideInUse(policy.overrides);
    result.warnings.push(`PRIVATE-ADDRESS GUARD OVERRIDDEN for ${policy.overrides.join(', ')}`);
  }
  const hopTimeoutMs = options.hopTimeoutMs ?? DEFAULTS.hopTimeoutMs;
  const peers = new Map<string, string>();
  // Every connection goes through the guard, each agent's with the same policy and limits. An
  // agent is ended when a request gives up before its response (undici would otherwise settle it
  // only at its connect timeout): the chain ends there, or, after an https upgrade's failure,
  // goes on with a new agent.
  const newAgent = () => {
    const over = new AbortController();
    const agent = createGuardedAgent({
      policy,
      // The time left in the hop (itself within the chain's), never a whole hop timeout more.
      connectTimeoutMs: () => Math.max(1, Math.ceil(run.hopDeadline - performance.now())),
      hopTimeoutMs,
      signal: over.signal,
      onConnected: (key: string, address: string) => peers.set(key, address),
      addressLimiter: options.addressLimiter ?? processAddressLimiter(),
      ...(options.lookup ? { lookup: options.lookup } : {}),
      ...(options.dnsServers ? { dnsServers: options.dnsServers } : {}),
    });
    return { agent, over };
  };
  const agents = [newAgent()];
  const cookies = new CookieJar();
  const run: Run = {
    options,
    policy,
    result,
    deadline: performance.now() + (options.totalTimeoutMs ?? DEFAULTS.totalTimeoutMs),
    hopDeadline: 0,
    peers,
    tracker: new RedirectTracker(options.maxRedirects ?? DEFAULT_MAX_REDIRECTS),
    cookies,
    reloaded: new Set(),
    hostLimiter: options.hostLimiter ?? processHostLimiter(),
    httpAllowed: new Set(),
    committed: false,
    navigation: { initiator: null, site: 'cross-site', userActivated: true },
    request: async (url, signal, timeoutMs, headersBy) => {
      let current = agents.at(-1)!;
      if (current.over.signal.aborted) agents.push((current = newAgent()));
      const cookie = cookies.header(url);
      const headers = navigationHeaders(url, { site: fetchSite(run.navigation, url), userActivated: run.navigation.userActivated }, options.userAgent);
      if (cookie !== undefined) headers.cookie = cookie;
      // Ends the request: the hop's signal (its deadline, the caller's), or the fallback timer
      // until the headers are in. Once the response is in, the signal ends its body by itself.
      const request = new AbortController();
      const forward = () => request.abort(signal.reason);
      if (signal.aborted) forward();
      else signal.addEventListener('abort', forward, { once: true });
      const timer =
        headersBy === undefined
          ? undefined
          : setTimeout(
              () => request.abort(new ScanError('fetch_timeout', `no answer within Chrome's ${HTTPS_UPGRADE_FALLBACK_DELAY_MS} ms https upgrade fallback delay`, { url: recordedUrl(url.href) })),
              Math.max(1, Math.ceil(headersBy - performance.now())),
            );
      // undici settles a request aborted during connect only at the connect timeout; ending the
      // agent settles it at once.
      const giveUp = () => current.over.abort(request.signal.reason);
      request.signal.addEventListener('abort', giveUp, { once: true });
      try {
        const response = await current.agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers,
          signal: request.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          // No keep-alive: an idle connection would hold its per-address slot while this chain
          // waits for a per-host slot another chain holds, waiting for that address slot.
          reset: true,
        });
        return { statusCode: response.statusCode, headers: response.headers, body: response.body };
      } finally {
        clearTimeout(timer);
        request.signal.removeEventListener('abort', giveUp);
      }
    },
  };

  try {
    let target = upgradeTarget(prepareTarget(input, run, true), run, 'input');
    // A revisit is a loop only if no cookie changed since the last visit (a cookie check).
    run.tracker.start(target.url, run.cookies.version);
    for (;;) {
      let hop: UnfurlHop;
      try {
        hop = await fetchHop(target, run);
      } catch (error) {
        const fallback = fallbackFor(error, run);
        if (fallback === undefined) throw error;
        target = fallback;
        continue;
      }
      if (!hop.redirect) break;
      if (run.committed) {
        // A page browsers show, leaving by its refresh (or, Firefox, a 300's Location): another
        // navigation, started by the page (a refresh's is not the user's).
        run.upgrade = undefined;
        if (hop.redirect.kind !== 'http') run.navigation = { initiator: new URL(hop.url), site: 'same-origin', userActivated: false };
      }
      result.final = { url: hop.redirect.location, canonical: null, fetched: false };
      const byRefresh = hop.redirect.kind !== 'http';
      try {
        const next = upgradeTarget(prepareTarget(hop.redirect.location, run, false), run, byRefresh ? 'refresh' : 'redirect');
        // A refresh to the page's own http form reloads the page, as browsers upgrade it: with
        // the same cookies, nothing new (see chooseRefresh), and the chain ends at the page.
        if (byRefresh && next.upgradedFrom && loopKey(next.url) === loopKey(new URL(hop.url)) && run.tracker.wouldLoop(next.url, run.cookies.version)) {
          result.final = { url: hop.url, canonical: hop.canonical, fetched: true };
          break;
        }
        run.tracker.follow(next.url, run.cookies.version);
        target = next;
      } catch (error) {
        const fallback = fallbackFor(error, run);
        if (fallback === undefined) throw error;
        target = fallback;
      }
    }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    result.error = toNetworkError(error, { url: recordedUrl(result.final?.url ?? input) }).toInfo();
  } finally {
    for (const { agent, over } of agents) {
      over.abort();
      await agent.destroy().catch(() => undefined);
    }
  }
  return result;
}
