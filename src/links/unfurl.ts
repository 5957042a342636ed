import type { Readable } from 'node:stream';
import { ScanError } from '../errors.js';
import { deadlineSignal } from '../runtime/deadline-signal.js';
import { canonicalize, canonicalizeParsed, DEFAULT_MAX_URL_LENGTH, parseLikeBrowser, type CanonicalUrl } from './canonicalize.js';
import { CookieJar } from './cookie-jar.js';
import { parseIpLiteral } from './ip-literal.js';
import { createAddressPolicy, warnOverrideInUse, type AddressPolicy } from './guard/address-policy.js';
import { discardBody, readBodyPrefix } from './guard/body-cap.js';
import { createGuardedAgent, originKey } from './guard/connector.js';
import { acquireFetchSlot, processAddressLimiter, processHostLimiter, type HostLimiter } from './guard/host-limiter.js';
import { headerText } from './guard/header-text.js';
import { contentTypeCharset, decodeHtml, getEncoding, parseUrlWithEncoding, sniffHtmlEncoding } from './guard/html-encoding.js';
import { metaRefreshes, parseRefreshContent, RefreshScanTooComplex, type DocumentSyntax, type MetaRefresh } from './guard/meta-refresh.js';
import { extractMimeType, isUnknownMimeType, isXmlMimeType, mimeEssence, responseContentType } from './guard/mime-type.js';
import { toNetworkError } from './guard/network-errors.js';
import { DEFAULT_MAX_REDIRECTS, loopKey, REDIRECT_STATUSES, RedirectTracker, resolveLocation } from './guard/redirects.js';
import type { UnfurlHop, UnfurlOptions, UnfurlResult } from './unfurl-types.js';
import { recordedUrl } from './recorded-url.js';
import { DEFAULT_USER_AGENT } from './user-agent.js';

export type { UnfurlHop, UnfurlOptions, UnfurlResult, UnfurlTarget } from './unfurl-types.js';

/**
 * Follows a link the way a victim's browser would (HTTP redirects and meta refresh, with the
 * chain's own cookies: see CookieJar), recording every hop, without ever letting the link reach
 * the worker's own network. Never throws for a bad URL or a network failure: the chain so far
 * comes back with a typed error, so the caller can still match every URL that was reached. Only a programming error (a malformed
 * `allowPrivateAddressesFor`) throws, and `signal` rejects with its reason: the caller gave up.
 */

const DEFAULTS = {
  hopTimeoutMs: 5_000,
  totalTimeoutMs: 20_000,
  maxBodyBytes: 64 * 1024,
  userAgent: DEFAULT_USER_AGENT,
};

interface Target {
  url: URL;
  canonical: CanonicalUrl;
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
  request: (url: URL, signal: AbortSignal, timeoutMs: number) => Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: Readable }>;
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
 * Checks a URL before any connection: parsable, http(s), not too long, not a refused literal IP.
 * The input (`isInput`) is limited in characters as given, as a job's URL limit counts them, and
 * fetched whatever its percent-encoded href grows to; a redirect target (already an href) is
 * limited to the href length of such a link (maxHrefLength).
 */
function prepareTarget(text: string, run: Run, isInput: boolean): Target {
  const maxUrlLength = run.options.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH;
  const hrefLimit = maxHrefLength(maxUrlLength);
  // Control characters escaped, as the browser's href has them (see canonicalize).
  const canonical = canonicalize(text, { maxLength: isInput ? maxUrlLength : hrefLimit, controlCharacters: 'escape' });
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
  // A link within the limit is fetched: its href (bounded by its characters) is never refused.
  const fetched = canonicalizeParsed(url, { maxLength: isInput ? Math.max(hrefLimit, url.href.length) : hrefLimit });
  run.result.final = { url: url.href, canonical: fetched.canonical, fetched: false };
  const literal = parseIpLiteral(url.hostname);
  if (literal) {
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const decision = run.policy.check(literal.address, port);
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
  const { signal, dispose } = deadlineSignal(run.options.signal, timeoutMs);
  try {
    // Waiting for the host's slot spends this hop's (and the chain's) time, never extra time.
    const slot = await acquireFetchSlot(run.hostLimiter, target.url, signal);
    try {
      return await fetchHopWithSlot(target, run, signal, timeoutMs);
    } finally {
      // Every path ends the body (read, discarded, or failed) before this: the request is over.
      slot.release();
    }
  } finally {
    dispose();
  }
}

async function fetchHopWithSlot(target: Target, run: Run, signal: AbortSignal, timeoutMs: number): Promise<UnfurlHop> {
  const started = performance.now();
  const response = await run.request(target.url, signal, timeoutMs);
  const { url } = target;
  const cookiesBefore = run.cookies.version;
  run.cookies.store(url, response.headers['set-cookie']);
  // A reload of this page sends other cookies only if this response changed them.
  const cookiesChanged = run.cookies.version !== cookiesBefore;
  const address = run.peers.get(originKey(url.protocol, url.hostname, url.port)) ?? 'unknown';
  const hop: UnfurlHop = {
    url: url.href,
    canonical: target.canonical.canonical,
    status: response.statusCode,
    address,
    durationMs: 0,
  };
  const contentType = responseContentType(response.headers['content-type']);
  if (contentType !== undefined) hop.contentType = contentType;
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  if (run.policy.check(address, port).overridden) hop.viaPrivateAddressOverride = true;
  run.result.chain.push(hop);
  run.result.final = { url: url.href, canonical: hop.canonical, fetched: true };

  try {
    if (REDIRECT_STATUSES.has(response.statusCode) && hasLocation(response.headers.location)) {
      discardBody(response.body);
      hop.redirect = { kind: 'http', location: resolveLocation(response.headers.location, url).href };
    } else if (run.options.followMetaRefresh ?? true) {
      await findRefresh(hop, target, response.statusCode, response.headers, response.body, cookiesChanged, run);
    } else {
      discardBody(response.body);
    }
  } finally {
    hop.durationMs = Math.round(performance.now() - started);
  }
  return hop;
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

/** Follows `input` through redirects and meta refreshes; see UnfurlOptions for every limit. */
export async function unfurl(input: string, options: UnfurlOptions = {}): Promise<UnfurlResult> {
  options.signal?.throwIfAborted();
  const policy = createAddressPolicy(options.allowPrivateAddressesFor);
  const result: UnfurlResult = { input, chain: [], final: null, warnings: [], privateAddressOverride: policy.overrides.length > 0 };
  if (result.privateAddressOverride) {
    warnOverrideInUse(policy.overrides);
    result.warnings.push(`PRIVATE-ADDRESS GUARD OVERRIDDEN for ${policy.overrides.join(', ')}`);
  }
  const hopTimeoutMs = options.hopTimeoutMs ?? DEFAULTS.hopTimeoutMs;
  const peers = new Map<string, string>();
  // Aborted when a hop gives up before its response: the chain ends there, so the agent goes.
  const chainOver = new AbortController();
  const agent = createGuardedAgent({
    policy,
    // The time left in the hop (itself within the chain's), never a whole hop timeout more.
    connectTimeoutMs: () => Math.max(1, Math.ceil(run.hopDeadline - performance.now())),
    hopTimeoutMs,
    signal: chainOver.signal,
    onConnected: (key: string, address: string) => peers.set(key, address),
    addressLimiter: options.addressLimiter ?? processAddressLimiter(),
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.dnsServers ? { dnsServers: options.dnsServers } : {}),
  });
  const cookies = new CookieJar();
  const headers = {
    'user-agent': options.userAgent ?? DEFAULTS.userAgent,
    accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
    'accept-encoding': 'gzip, deflate, br',
  };
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
    request: async (url, signal, timeoutMs) => {
      const cookie = cookies.header(url);
      // undici settles a request aborted during connect only at the connect timeout; ending the
      // agent settles it at once. Once the response is in, the signal ends its body by itself.
      const giveUp = () => chainOver.abort(signal.reason);
      signal.addEventListener('abort', giveUp, { once: true });
      try {
        const response = await agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers: cookie === undefined ? headers : { ...headers, cookie },
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          // No keep-alive: an idle connection would hold its per-address slot while this chain
          // waits for a per-host slot another chain holds, waiting for that address slot.
          reset: true,
        });
        return { statusCode: response.statusCode, headers: response.headers, body: response.body };
      } finally {
        signal.removeEventListener('abort', giveUp);
      }
    },
  };

  try {
    let target = prepareTarget(input, run, true);
    // A revisit is a loop only if no cookie changed since the last visit (a cookie check).
    run.tracker.start(target.url, run.cookies.version);
    for (;;) {
      const hop = await fetchHop(target, run);
      if (!hop.redirect) break;
      result.final = { url: hop.redirect.location, canonical: null, fetched: false };
      target = prepareTarget(hop.redirect.location, run, false);
      run.tracker.follow(target.url, run.cookies.version);
    }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    result.error = toNetworkError(error, { url: recordedUrl(result.final?.url ?? input) }).toInfo();
  } finally {
    chainOver.abort();
    await agent.destroy().catch(() => undefined);
  }
  return result;
}
