import { createHash } from 'node:crypto';
import { ERROR_CODES } from '../errors.js';
import { withDeadline } from '../runtime/deadline.js';
import type { Logger } from '../runtime/logger.js';
import { RepeatedErrorLog, REPEAT_WINDOW_MS } from '../runtime/repeated-log.js';
import type { RedisClient } from '../runtime/redis.js';
import { SCANNER_VERSION } from '../version.js';
import { parseLikeBrowser, type CanonicalUrl } from './canonicalize.js';
import { unfurl as unfurlUncached, type UnfurlOptions, type UnfurlResult } from './unfurl.js';

/**
 * A short-lived cache of finished unfurls, so a link sent a million times is fetched once per
 * TTL: in Redis for the whole fleet, keyed by the URL fetched (the input's WHATWG href), and
 * within one process concurrent misses for the same URL share one fetch. Never cached: results of
 * a run with the private-address override (they prove nothing about the public internet), and
 * results ending in a transient error (the next try may work).
 * A Redis failure (or no answer within 250 ms) is a miss, never a failed scan. The key also
 * holds the unfurl settings a result depends on (redirect limit, timeouts, caps) and the scanner
 * version (during a rolling deploy, a newer worker's unfurler may follow a chain further or record
 * it differently: it does not take an older worker's results for its own), and results
 * over MAX_CACHED_RESULT_BYTES as JSON are not stored. A caller whose `signal` aborts stops waiting at
 * once; the shared fetch itself stops only once every caller waiting for it has.
 */

export interface UnfurlCacheOptions {
  /** Where results are shared across the fleet; absent: in-process sharing of concurrent misses only. */
  redis?: RedisClient;
  /** Fleet key prefix (keep the braces). Keys: `<prefix>:unfurl:<sha256 of the URL>`. */
  prefix: string;
  /** Seconds a result is kept; 0 disables the Redis cache (concurrent misses are still shared). Default 300. */
  ttlSeconds?: number;
  /** The unfurler behind the cache. Default `unfurl` (tests inject a counting one). */
  unfurl?: (input: string, options?: UnfurlOptions) => Promise<UnfurlResult>;
  logger?: Logger;
  /** Whose results these are; results of other versions are kept apart. Default this package's version (tests give others). */
  scannerVersion?: string;
  /** Read the Redis cache, never write it (`scan --fleet`: a result fetched from an operator's machine, its network and DNS, is not one the workers should serve). */
  readOnly?: boolean;
}

export const DEFAULT_UNFURL_CACHE_TTL_SECONDS = 300;
/**
 * Largest result stored, as JSON: a chain of long hops (each URL up to 73 KB, recorded as the hop,
 * its canonical form and the previous hop's redirect) would otherwise put megabytes per link in
 * the Redis the queues share, for the whole TTL. Larger results are fetched again each time.
 */
export const MAX_CACHED_RESULT_BYTES = 64 * 1024;
/** Longest wait for the cache's Redis: past it, a read is a miss and a write is given up. */
const REDIS_DEADLINE_MS = 250;
/** The unfurl options a result depends on: results of other settings are kept apart. */
const RESULT_OPTIONS = ['maxRedirects', 'hopTimeoutMs', 'totalTimeoutMs', 'maxBodyBytes', 'followMetaRefresh', 'userAgent', 'maxUrlLength'] as const;

export interface UnfurlCacheStats {
  /** Answers from Redis. */
  hits: number;
  /** Fetches made. */
  misses: number;
  /** Calls that waited for a fetch already in flight in this process. */
  shared: number;
}

/** A fetch shared by concurrent misses of one URL. */
interface InFlight {
  result: Promise<UnfurlResult>;
  /** Callers still waiting for it; the fetch is aborted when the last of them gives up. */
  waiting: number;
  controller: AbortController;
}

export class UnfurlCache {
  readonly stats: UnfurlCacheStats = { hits: 0, misses: 0, shared: 0 };
  private readonly inFlight = new Map<string, InFlight>();
  private readonly ttlSeconds: number;
  private readonly unfurlFn: (input: string, options?: UnfurlOptions) => Promise<UnfurlResult>;

  /**
   * While the cache's Redis is slow or away every link in flight fails its read and its write:
   * each failure is logged once, then counted per minute.
   */
  private readonly redisFailures: RepeatedErrorLog | undefined;

  constructor(private readonly options: UnfurlCacheOptions) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_UNFURL_CACHE_TTL_SECONDS;
    this.unfurlFn = options.unfurl ?? unfurlUncached;
    this.redisFailures = options.logger && new RepeatedErrorLog(options.logger, REPEAT_WINDOW_MS, 'warn');
  }

  /**
   * Key of the unfurl of `canonical.input`: the WHATWG href (without fragment) the unfurler fetches.
   * Not the canonical form, which unescapes and collapses slashes: `http://a.com/@b.com/` (fetches
   * a.com) and `http://a.com%2F@b.com/` (fetches b.com), or `/x%2Fy` and `//x/y`, share it.
   */
  key(canonical: CanonicalUrl, unfurlOptions: UnfurlOptions = {}): string {
    const fetched = parseLikeBrowser(canonical.input, canonical.scheme);
    // The settings a result depends on (a worker allowing 2 redirects must not hand its cut chains
    // to workers allowing 10): absent ones as absent, so the default settings make one key.
    const settings = JSON.stringify([this.options.scannerVersion ?? SCANNER_VERSION, ...RESULT_OPTIONS.map((name) => unfurlOptions[name] ?? null)]);
    // Unparsable input fails the same way whatever it is: its own text is key enough.
    const digest = createHash('sha256').update(settings).update('\u0000').update(fetched ? fetched.href : canonical.input).digest('hex');
    return `${this.options.prefix}:unfurl:${digest}`;
  }

  /**
   * The unfurl of `input` (whose canonical form is `canonical`), from the cache when fresh.
   * `unfurlOptions.signal` is this caller's: see the class comment.
   */
  async unfurl(input: string, canonical: CanonicalUrl, unfurlOptions?: UnfurlOptions): Promise<UnfurlResult> {
    const { signal, ...shared } = unfurlOptions ?? {};
    signal?.throwIfAborted();
    const key = this.key(canonical, shared);
    let flight = this.inFlight.get(key);
    if (flight) {
      this.stats.shared++;
    } else {
      const controller = new AbortController();
      const started: InFlight = {
        controller,
        waiting: 0,
        result: this.lookupOrFetch(key, input, { ...shared, signal: controller.signal }).finally(() => {
          if (this.inFlight.get(key) === started) this.inFlight.delete(key);
        }),
      };
      this.inFlight.set(key, started);
      flight = started;
    }
    const result = await this.wait(key, flight, signal);
    // Another input fetching the same URL (`HTTP://A.com/#x`, `http://a.com/`) may have produced
    // it: report this one.
    return result.input === input ? result : { ...result, input };
  }

  /** The shared fetch's result, or `signal`'s reason as soon as it aborts. */
  private wait(key: string, flight: InFlight, signal: AbortSignal | undefined): Promise<UnfurlResult> {
    flight.waiting++;
    if (signal === undefined) return flight.result;
    return new Promise((resolve, reject) => {
      const leave = () => {
        if (--flight.waiting === 0) {
          // Nobody wants it any more: stop it, and let the next caller start afresh.
          if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
          flight.controller.abort(signal.reason);
        }
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', leave, { once: true });
      const done = () => signal.removeEventListener('abort', leave);
      flight.result.then(
        (result) => (done(), resolve(result)),
        (error: unknown) => (done(), reject(error as Error)),
      );
    });
  }

  private async lookupOrFetch(key: string, input: string, unfurlOptions?: UnfurlOptions): Promise<UnfurlResult> {
    const { redis } = this.options;
    const useRedis = redis !== undefined && this.ttlSeconds > 0;
    // Bounded: the worker's connection holds commands while Redis is away, and a cache that cannot
    // answer is a miss, not a scan waiting for Redis.
    const noAnswer = () => new Error(`no answer from Redis within ${REDIS_DEADLINE_MS} ms`);
    if (useRedis) {
      try {
        const cached = await withDeadline(redis.get(key), REDIS_DEADLINE_MS, noAnswer);
        if (cached !== null) {
          this.stats.hits++;
          return JSON.parse(cached) as UnfurlResult;
        }
      } catch (error) {
        this.redisFailures?.error(`read\u0000${String(error)}`, { err: error }, 'unfurl cache read failed; fetching');
      }
    }
    this.stats.misses++;
    const result = await this.unfurlFn(input, unfurlOptions);
    if (useRedis && !this.options.readOnly && cacheable(result)) {
      const json = JSON.stringify(result);
      if (Buffer.byteLength(json) > MAX_CACHED_RESULT_BYTES) {
        this.options.logger?.debug({ bytes: Buffer.byteLength(json), limit: MAX_CACHED_RESULT_BYTES }, 'unfurl result too large to cache');
        return result;
      }
      await withDeadline(redis.set(key, json, 'EX', this.ttlSeconds), REDIS_DEADLINE_MS, noAnswer).catch((error: unknown) => {
        this.redisFailures?.error(`write\u0000${String(error)}`, { err: error }, 'unfurl cache write failed');
      });
    }
    return result;
  }
}

/** Whether a result may be served to other jobs: no address-guard override, no transient error. */
export function cacheable(result: UnfurlResult): boolean {
  if (result.privateAddressOverride) return false;
  return result.error === undefined || ERROR_CODES[result.error.code].permanent;
}
