import { ScanError } from '../../errors.js';
import { recordedUrl } from '../recorded-url.js';
import { formatIPv6, parseIpLiteral } from '../ip-literal.js';
import { registrableDomain } from '../registrable-domain.js';
import { classifyLiteral } from './address.js';

/**
 * A process-wide cap on requests in flight to one host, shared by the unfurler and the image
 * fetcher, so that many jobs full of links to one site cannot turn the fleet into an amplifier
 * pointed at it, and a slow site ties up at most a few of a worker's fetches. Requests wait for
 * a slot first come, first served; a wait ends early only through its AbortSignal (the caller's
 * deadline), which also takes it out of the queue. Pure logic: no timers, no I/O.
 *
 * The unit is the registrable domain (see `hostKey`), not the hostname: `a.victim.example` and
 * `b.victim.example` share one budget, so made-up subdomains (or a wildcard DNS record pointing
 * at a victim) buy an attacker nothing.
 */

export const DEFAULT_FETCHES_PER_HOST = 8;
/**
 * Connections open at once to one address (an IPv4 address, an IPv6 /64) per process, whatever
 * names led there (see GuardedConnectorOptions.addressLimiter): more than one site's budget, as
 * shared hosting and CDNs serve many sites from one address, and far less than what a thousand
 * names pointed at one victim would otherwise open.
 */
export const DEFAULT_CONNECTIONS_PER_ADDRESS = 32;

export interface HostSlot {
  readonly key: string;
  /** Frees the slot (for the next waiter of its host); later calls do nothing. */
  release(): void;
}

interface Waiter {
  grant: (slot: HostSlot) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface HostState {
  active: number;
  /** Invariant: non-empty only while `active === limit` (a freed slot goes straight to the head). */
  queue: Waiter[];
}

export class HostLimiter {
  private readonly hosts = new Map<string, HostState>();

  constructor(readonly limit: number = DEFAULT_FETCHES_PER_HOST) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`host limit must be a positive integer, got ${limit}`);
  }

  /**
   * A slot for `key`, at once when one is free, else after every earlier waiter of that key.
   * Rejects with `signal.reason` when the signal aborts first (the waiter leaves the queue).
   */
  acquire(key: string, signal?: AbortSignal): Promise<HostSlot> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    let state = this.hosts.get(key);
    if (state === undefined) {
      state = { active: 0, queue: [] };
      this.hosts.set(key, state);
    }
    if (state.active < this.limit) {
      state.active++;
      return Promise.resolve(this.slot(key, state));
    }
    const host = state;
    return new Promise<HostSlot>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const index = host.queue.indexOf(waiter);
          if (index >= 0) host.queue.splice(index, 1);
          reject(signal.reason as unknown);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      host.queue.push(waiter);
    });
  }

  /** Requests holding a slot: for `key`, or for every host. */
  active(key?: string): number {
    if (key !== undefined) return this.hosts.get(key)?.active ?? 0;
    let total = 0;
    for (const state of this.hosts.values()) total += state.active;
    return total;
  }

  /** Requests waiting for a slot: for `key`, or for every host. */
  waiting(key?: string): number {
    if (key !== undefined) return this.hosts.get(key)?.queue.length ?? 0;
    let total = 0;
    for (const state of this.hosts.values()) total += state.queue.length;
    return total;
  }

  /** Hosts with a slot taken (idle hosts are forgotten, so the map cannot grow without bound). */
  get hostCount(): number {
    return this.hosts.size;
  }

  private slot(key: string, state: HostState): HostSlot {
    let released = false;
    return {
      key,
      release: () => {
        if (released) return;
        released = true;
        this.release(key, state);
      },
    };
  }

  private release(key: string, state: HostState): void {
    // Abort listeners run synchronously, so every waiter still queued has a live signal.
    const next = state.queue.shift();
    if (next !== undefined) {
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      next.grant(this.slot(key, state));
      return;
    }
    state.active--;
    if (state.active === 0) this.hosts.delete(key);
  }
}

const processLimiters = { hosts: new Map<number, HostLimiter>(), addresses: new Map<number, HostLimiter>() };

function processLimiter(kind: keyof typeof processLimiters, limit: number): HostLimiter {
  let limiter = processLimiters[kind].get(limit);
  if (limiter === undefined) {
    limiter = new HostLimiter(limit);
    processLimiters[kind].set(limit, limiter);
  }
  return limiter;
}

/**
 * The process's limiter for `limit` (one per value, so every pipeline and direct caller of a
 * process using the same limit shares one budget per host). Default: DEFAULT_FETCHES_PER_HOST.
 */
export function processHostLimiter(limit: number = DEFAULT_FETCHES_PER_HOST): HostLimiter {
  return processLimiter('hosts', limit);
}

/** The process's connection limiter per address for `limit`, as processHostLimiter (its keys are addresses, apart from the hosts'). */
export function processAddressLimiter(limit: number = DEFAULT_CONNECTIONS_PER_ADDRESS): HostLimiter {
  return processLimiter('addresses', limit);
}

/**
 * The unit a host's requests are counted in, from a URL's hostname:
 * - a name: its registrable domain, private PSL suffixes counted (`a.victim.example` and
 *   `b.victim.example` -> `victim.example`; `alice.github.io` and `bob.github.io` stay apart,
 *   as they are independent sites, while `github.io` itself is its own unit). A name with no
 *   registrable domain (a bare suffix, a single label) counts as itself, trailing dots dropped.
 * - an IPv4 literal: the address; an IPv6 literal that embeds one (IPv4-mapped, NAT64, 6to4):
 *   that IPv4 address, where the packets go.
 * - any other IPv6 literal: its /64, because one site usually owns a whole /64 and an attacker
 *   could otherwise spell one victim in 2^64 ways.
 */
export function hostKey(hostname: string): string {
  const literal = parseIpLiteral(hostname);
  if (literal !== null) {
    if (literal.version === 4) return literal.address;
    const embedded = classifyLiteral(literal).embeddedIPv4;
    if (embedded !== undefined) return embedded;
    return `${formatIPv6([...literal.words!.slice(0, 4), 0, 0, 0, 0])}/64`;
  }
  return registrableDomain(hostname) ?? hostname.trim().toLowerCase().replace(/\.+$/, '');
}

/**
 * Waits for a slot for `url`'s host. A wait cut short by the fetch's deadline fails like any
 * other fetch that ran out of time, with `fetch_timeout` (transient: a busy host may be free on
 * retry), its detail naming the host unit and `cause: 'host_busy'`; a wait aborted for another
 * reason (the job failed or was given up) fails with that reason, as an abort mid-request does.
 */
export async function acquireFetchSlot(limiter: HostLimiter, url: URL, signal: AbortSignal): Promise<HostSlot> {
  const key = hostKey(url.hostname);
  try {
    return await limiter.acquire(key, signal);
  } catch (error) {
    if ((signal.reason as { name?: unknown } | undefined)?.name !== 'TimeoutError') throw error;
    throw new ScanError(
      'fetch_timeout',
      `no request slot for ${key} came free before the deadline (${limiter.limit} requests in flight there)`,
      { url: recordedUrl(url.href), host: key, limit: limiter.limit, cause: 'host_busy' },
      { cause: error },
    );
  }
}
