/**
 * What the fleet's requests to a site look like. A link is judged by what a victim's browser is
 * shown, and a server can pick its answer by the request's headers (cloaking): one that sees
 * `abuse-scan`, or no Accept-Language, can show a scanner a harmless page and a browser the
 * phishing kit. So requests carry the headers of a current stable desktop Chrome, navigating to a
 * link clicked on another site. What still tells us apart: TLS and HTTP/2 fingerprints (Node's TLS
 * stack, HTTP/1.1 only), `Connection: close` (see unfurl.ts), no Referer, no `zstd` in
 * Accept-Encoding (Node 20 cannot decode it), and the addresses the requests come from.
 */

/**
 * Chrome's major version in DEFAULT_USER_AGENT and the Sec-CH-UA hints: the stable one of
 * November 2026 by Chrome's four-week release schedule (https://chromiumdash.appspot.com/schedule;
 * 144 shipped in January 2026). Bump it with the releases: a version far behind looks like a bot
 * to some cloakers.
 */
export const CHROME_MAJOR_VERSION = 154;

/**
 * The User-Agent of every request the fleet makes to a site (unfurls and image URLs): a stable
 * desktop Chrome's, in its reduced form (Windows, minor versions zeroed), as sent since Chrome 110.
 * Unfurls take another with `UnfurlOptions.userAgent` (ABUSE_SCAN_UNFURL_USER_AGENT).
 */
export const DEFAULT_USER_AGENT = `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${CHROME_MAJOR_VERSION}.0.0.0 Safari/537.36`;

/** Longest User-Agent accepted (Chrome's own is about 110 characters). */
export const MAX_USER_AGENT_LENGTH = 512;

/**
 * Why `value` cannot be sent as a User-Agent, or undefined when it can: printable ASCII (a space
 * to `~`) only, neither starting nor ending with a space, at most MAX_USER_AGENT_LENGTH characters.
 * A control character would split or end the header (undici refuses CR and LF, not the rest).
 */
export function userAgentProblem(value: string): string | undefined {
  if (value.length === 0) return 'is empty';
  if (value.length > MAX_USER_AGENT_LENGTH) return `is longer than ${MAX_USER_AGENT_LENGTH} characters`;
  if (!/^[\x20-\x7e]+$/.test(value)) return 'may hold only printable ASCII characters (space to ~)';
  if (value.startsWith(' ') || value.endsWith(' ')) return 'may not start or end with a space';
  return undefined;
}

/**
 * The Accept header of Chrome's navigations (a link followed, a redirect, a refresh). Chrome also
 * lists `application/signed-exchange;v=b3;q=0.7`; kept, as a server may look for it.
 */
export const NAVIGATION_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';

export const NAVIGATION_ACCEPT_LANGUAGE = 'en-US,en;q=0.9';

/** How a navigation request came about, for its Sec-Fetch-* headers. */
export interface NavigationContext {
  /**
   * Sec-Fetch-Site: `cross-site` for a link clicked on another site (the chain's first request
   * and the redirects after it); for a refresh, the refreshing page against each URL of its
   * redirect chain (the least related one so far).
   */
  site: 'same-origin' | 'same-site' | 'cross-site';
  /** Sec-Fetch-User `?1`: the user started the navigation (the click), not a page's refresh. */
  userActivated: boolean;
}

/**
 * The request headers of a browser navigation to `url` (no Cookie: the caller adds the chain's).
 * Sec-Fetch-* and the Sec-CH-UA client hints go to secure (https) URLs only, as Chrome sends them;
 * over http Chrome offers gzip and deflate only (brotli needs TLS). The client hints describe
 * DEFAULT_USER_AGENT: with another User-Agent (`customUserAgent`) they are left out, as they
 * would contradict it.
 */
export function navigationHeaders(url: URL, context: NavigationContext, customUserAgent?: string): Record<string, string> {
  const secure = url.protocol === 'https:';
  const headers: Record<string, string> = {};
  if (secure && customUserAgent === undefined) {
    headers['sec-ch-ua'] = `"Chromium";v="${CHROME_MAJOR_VERSION}", "Google Chrome";v="${CHROME_MAJOR_VERSION}", "Not_A Brand";v="99"`;
    headers['sec-ch-ua-mobile'] = '?0';
    headers['sec-ch-ua-platform'] = '"Windows"';
  }
  headers['upgrade-insecure-requests'] = '1';
  headers['user-agent'] = customUserAgent ?? DEFAULT_USER_AGENT;
  headers.accept = NAVIGATION_ACCEPT;
  if (secure) {
    headers['sec-fetch-site'] = context.site;
    headers['sec-fetch-mode'] = 'navigate';
    if (context.userActivated) headers['sec-fetch-user'] = '?1';
    headers['sec-fetch-dest'] = 'document';
  }
  headers['accept-encoding'] = secure ? 'gzip, deflate, br' : 'gzip, deflate';
  headers['accept-language'] = NAVIGATION_ACCEPT_LANGUAGE;
  return headers;
}
