import type { LookupFunction } from 'node:net';
import { ScanError } from '../errors.js';
import { DEFAULT_MAX_URL_LENGTH } from './canonicalize.js';
import { deadlineSignal } from '../runtime/deadline-signal.js';
import { createAddressPolicy, warnOverrideInUse } from './guard/address-policy.js';
import { discardBody, readBodyPrefix } from './guard/body-cap.js';
import { createGuardedAgent } from './guard/connector.js';
import { acquireFetchSlot, processAddressLimiter, processHostLimiter, type HostLimiter } from './guard/host-limiter.js';
import { toNetworkError } from './guard/network-errors.js';
import { REDIRECT_STATUSES, RedirectTracker, resolveLocation } from './guard/redirects.js';
import { recordedUrl } from './recorded-url.js';
import { maxHrefLength } from './unfurl.js';
import { DEFAULT_USER_AGENT } from './user-agent.js';

export interface FetchImageOptions {
  /** Bytes of the (decoded) body accepted at most; more is payload_too_large. */
  maxBytes: number;
  /**
   * The job's URL limit (ABUSE_SCAN_MAX_URL_LENGTH). A redirect target's href may be as long as
   * the href of such a link, as for unfurls (maxHrefLength); a longer one is url_too_long.
   * Default 8192.
   */
  maxUrlLength?: number;
  /** Redirects followed (CDNs redirect); one more is too_many_redirects. Default 5. */
  maxRedirects?: number;
  /** Deadline of the whole fetch, redirects included. Default 15000 ms. */
  timeoutMs?: number;
  /** DANGER, tests only: literal IPs reachable although not public (see UnfurlOptions). */
  allowPrivateAddressesFor?: readonly string[];
  /** DNS lookup for sockets (node:net signature); its answers pass the guard. Default c-ares (see UnfurlOptions). Tests inject a resolver. */
  lookup?: LookupFunction;
  /** Per-host cap on requests in flight, shared with the unfurler (see UnfurlOptions). Default: the process's. */
  hostLimiter?: HostLimiter;
  /** Per-address cap on connections open, shared with the unfurler (see UnfurlOptions). Default: the process's. */
  addressLimiter?: HostLimiter;
}

export interface FetchedImage {
  bytes: Buffer;
  /** The URL the bytes came from, after redirects. */
  finalUrl: string;
  /** Redirects followed to get there. */
  redirects: number;
}

/**
 * Fetches an image item given by URL through the same connect-time address guard as the
 * unfurler, with a cap on decoded bytes. Throws ScanError: permanent for refused addresses,
 * schemes, sizes and HTTP errors; transient (retried) for timeouts and network failures.
 */
export async function fetchImage(input: string, options: FetchImageOptions, signal?: AbortSignal): Promise<FetchedImage> {
  const policy = createAddressPolicy(options.allowPrivateAddressesFor);
  if (policy.overrides.length) warnOverrideInUse(policy.overrides);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = performance.now() + timeoutMs;
  const { signal: abort, dispose } = deadlineSignal(signal, timeoutMs);
  // The abort (job or deadline) ends the agent: a request still connecting settles at once.
  const agent = createGuardedAgent({
    policy,
    connectTimeoutMs: () => Math.max(1, Math.ceil(deadline - performance.now())),
    signal: abort,
    addressLimiter: options.addressLimiter ?? processAddressLimiter(),
    ...(options.lookup && { lookup: options.lookup }),
  });
  const tracker = new RedirectTracker(options.maxRedirects ?? 5);
  const hrefLimit = maxHrefLength(options.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH);
  const hostLimiter = options.hostLimiter ?? processHostLimiter();
  try {
    let url = httpUrl(input);
    tracker.start(url);
    for (;;) {
      // One slot per request, held until its body is read or discarded; the wait spends the
      // fetch's own deadline (and ends with the job's signal).
      const slot = await acquireFetchSlot(hostLimiter, url, abort);
      try {
        // No keep-alive, as for unfurls: an idle connection would hold its per-address slot.
        const response = await agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', signal: abort, headers: { accept: 'image/*', 'user-agent': DEFAULT_USER_AGENT }, reset: true });
        if (REDIRECT_STATUSES.has(response.statusCode)) {
          discardBody(response.body);
          const target = resolveLocation(response.headers.location, url).href;
          if (target.length > hrefLimit) throw new ScanError('url_too_long', 'the redirect target is longer than the URL limit allows', { length: target.length, maxLength: hrefLimit });
          url = httpUrl(target);
          tracker.follow(url);
          continue;
        }
        if (response.statusCode >= 400) {
          discardBody(response.body);
          // 5xx and 429 may pass; 4xx will not.
          const transient = response.statusCode >= 500 || response.statusCode === 429;
          throw new ScanError(transient ? 'fetch_failed' : 'http_error', `image URL answered HTTP ${response.statusCode}`, { status: response.statusCode, url: recordedUrl(url.href) });
        }
        const body = await readBodyPrefix(response.body, {
          contentEncoding: response.headers['content-encoding'],
          maxDecodedBytes: options.maxBytes + 1,
          // An image does not compress: its encoded body is its size plus the codings' few bytes
          // of overhead. Bounds what waits undecoded (the body is never paused, see body-cap).
          maxRawBytes: maxEncodedImageBytes(options.maxBytes),
        });
        // A body cut by the network is a fetch failure (retried), not a corrupt image.
        if (body.networkError !== undefined) throw toNetworkError(body.networkError, { url: recordedUrl(url.href) });
        if (body.decodeError !== undefined) throw new ScanError('image_corrupt', `image body could not be decoded: ${body.decodeError}`);
        // Cut by either cap: more image than allowed, or more encoded bytes than such an image has.
        if (body.truncated || body.bytes.length > options.maxBytes) {
          throw new ScanError('payload_too_large', `image at ${recordedUrl(url.href)} is larger than ${options.maxBytes} bytes`, { limit: options.maxBytes });
        }
        return { bytes: body.bytes, finalUrl: url.href, redirects: tracker.count };
      } finally {
        slot.release();
      }
    }
  } catch (error) {
    throw toNetworkError(error, { url: recordedUrl(input) });
  } finally {
    // Every body is read or discarded by now: nothing to wait for.
    await agent.destroy().catch(() => undefined);
    dispose();
  }
}

function httpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ScanError('invalid_url', `cannot parse image URL ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ScanError('unsupported_scheme', `${url.protocol} image URLs are not fetched`, { scheme: url.protocol.slice(0, -1) });
  }
  return url;
}

/** Largest encoded body of an image of `maxBytes`: stored deflate or brotli blocks add well under 1%. */
export function maxEncodedImageBytes(maxBytes: number): number {
  return maxBytes + 1 + Math.ceil(maxBytes / 128) + 64 * 1024;
}
