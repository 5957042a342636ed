import type { LookupFunction } from 'node:net';
import type { ErrorInfo } from '../errors.js';
import type { HostLimiter } from './guard/host-limiter.js';

/** The unfurler's options and results; `unfurl.ts` re-exports them. */

export interface UnfurlOptions {
  /**
   * Redirects (HTTP and meta refresh) followed; one more gives too_many_redirects. A fallback to
   * http after a failed https upgrade counts as one (Chrome serves it as a redirect of the same
   * navigation), so a chain has at most this many hops plus one. Default 10.
   */
  maxRedirects?: number;
  /** Deadline of one hop: connect, headers, and the body scan. Default 5000 ms. */
  hopTimeoutMs?: number;
  /** Deadline of the whole chain. Default 20000 ms. */
  totalTimeoutMs?: number;
  /**
   * Decoded bytes of an HTML body read to look for a meta refresh; the rest is never read.
   * Non-HTML bodies are not read at all. Default 64 KiB.
   */
  maxBodyBytes?: number;
  /** Follow `<meta http-equiv="refresh">` and the `Refresh:` header (any delay; we never wait). Default true. */
  followMetaRefresh?: boolean;
  /**
   * User-Agent header (printable ASCII, at most 512 characters: see userAgentProblem). Default a
   * current desktop Chrome's (DEFAULT_USER_AGENT), sent with the rest of Chrome's navigation
   * headers (navigationHeaders); with another one, Chrome's Sec-CH-UA client hints are left out.
   */
  userAgent?: string;
  /**
   * Longest link accepted, in characters of the input as given (UTF-16 code units, as a job's URL
   * limit counts them): a link within it is fetched, however long its percent-encoded href (`ж` is
   * `%D0%B6`). A redirect target, already an href (ASCII, its characters the bytes sent), may be
   * as long as the href of such a link: 9 times the limit, plus 64 (`maxHrefLength`); a longer one
   * ends the chain with url_too_long. Hops record canonical forms up to that length: the link
   * preparer matches those whose canonical form is over `maxUrlLength` cut to their host and the
   * directories of their canonical path.
   * Default 8192.
   */
  maxUrlLength?: number;
  /** DNS lookup for sockets (node:net signature). Default c-ares (`dns.promises.Resolver`). Tests inject a resolver. */
  lookup?: LookupFunction;
  /** DNS servers of the default lookup (`'127.0.0.1:5353'`). Default the system's (/etc/resolv.conf). */
  dnsServers?: readonly string[];
  /**
   * Ends the unfurl when it aborts (the job was given up): the request under way settles at once,
   * even while connecting, and unfurl rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /**
   * Caps requests in flight per host (registrable domain) across every unfurl and image fetch
   * sharing it; waiting for a slot counts against the hop and chain deadlines (`fetch_timeout`).
   * Default: the process's limiter at DEFAULT_FETCHES_PER_HOST (8).
   */
  hostLimiter?: HostLimiter;
  /**
   * Caps connections open at once per address (see GuardedConnectorOptions.addressLimiter), across
   * every unfurl and image fetch sharing it. Default: the process's limiter at
   * DEFAULT_CONNECTIONS_PER_ADDRESS (32).
   */
  addressLimiter?: HostLimiter;
  /**
   * DANGER: literal IP addresses (`'127.0.0.1'`, or port-scoped `'127.0.0.1:8080'`, `'[::1]:8080'`)
   * that may be reached although they are not public. For tests against local servers only. It
   * is never read from configuration; each use emits a process warning once and sets
   * `privateAddressOverride` and a warning on the result. Hostnames and ranges are refused.
   */
  allowPrivateAddressesFor?: readonly string[];
  /**
   * For tests against local servers only (never read from configuration): an http URL on port
   * `http` counts as on the default port for https upgrades, and is upgraded to port `https`
   * (test servers cannot listen on 80 and 443). See httpsUpgradeOf.
   */
  httpsUpgradePortsForTesting?: { http: number; https: number };
}

export interface UnfurlHop {
  /** The URL fetched (WHATWG form, what went on the wire). */
  url: string;
  /**
   * The http:// URL this hop's https:// one was fetched for, as browsers fetch it: its host is
   * under an HSTS-preloaded suffix (every browser), or Chrome's HTTPS-Upgrades try https first
   * (see httpsUpgradeOf). Both forms give the same lookup expressions (scheme is not part of one).
   */
  upgradedFrom?: string;
  /** Its Safe Browsing canonical form, for matching. */
  canonical: string;
  status: number;
  /** The peer IP address actually connected to. */
  address: string;
  durationMs: number;
  /**
   * The response's MIME type as browsers read its Content-Type (Fetch "extract a MIME type": every
   * header and comma-separated value, the last one that parses wins), serialized: lowercase type,
   * no spaces (`text/html;charset=utf-8`). Absent when no value parses (or there is no header):
   * undeclared, so the body is read as possibly HTML.
   */
  contentType?: string;
  /**
   * Where this hop sends the client next, when it does. `alternate`: where Firefox goes instead,
   * matched too but not fetched: when a page's refreshes send it (the first valid one) and
   * Chromium and WebKit (the soonest) to different pages, the chain follows the latter; and on a
   * 300 Multiple Choices with a Location, which Firefox follows and Chromium and WebKit do not
   * (they show the page), the chain follows the page's refresh when it has one, the Location
   * being the alternate, and the Location (kind `http`) when it has none.
   */
  redirect?: { kind: 'http' | 'refresh-header' | 'meta-refresh'; location: string; delaySeconds?: number; alternate?: string };
  /**
   * Present when the body was scanned for a meta refresh. `encoding`: the character encoding it
   * was read in, as a browser picks it (byte order mark, Content-Type charset, `<meta charset>`,
   * else UTF-8 when the bytes are UTF-8 and windows-1252 otherwise).
   */
  body?: { bytesRead: number; rawBytes: number; truncated: boolean; encoding?: string; decodeError?: string };
  /** True when the peer is not public and was reached only through `allowPrivateAddressesFor`. */
  viaPrivateAddressOverride?: boolean;
}

export interface UnfurlTarget {
  url: string;
  canonical: string | null;
  /** False when the chain stopped before fetching this URL (refused, failed, or timed out). */
  fetched: boolean;
}

export interface UnfurlResult {
  input: string;
  /** Every response received, in order. */
  chain: UnfurlHop[];
  /** The last URL the chain reached, fetched or not; null only when the input is not a URL at all. */
  final: UnfurlTarget | null;
  error?: ErrorInfo;
  /** Loud notes for operators (override in use, ignored meta refresh...). */
  warnings: string[];
  /** True when `allowPrivateAddressesFor` was given: results from such a run prove nothing about safety. */
  privateAddressOverride: boolean;
}
