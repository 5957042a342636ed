import { Resolver } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Name lookups for the guarded connector, over c-ares (`dns.promises.Resolver`) rather than
 * `dns.lookup`: getaddrinfo runs on libuv's thread pool (shared with image decodes and file
 * reads) and cannot be cancelled, so a few names whose DNS never answers held every other lookup
 * of the process for 10-15 s. A c-ares query holds no thread, gives up after `timeoutMs` x
 * `tries`, and `cancel()` ends it at once.
 *
 * c-ares does not read /etc/hosts, and production needs nothing from it: names there are the
 * worker's own (its hostname, sidecars), never what a victim's browser reaches, and would only be
 * refused by the guard. The one exception is `localhost` (and `*.localhost`), which browsers
 * resolve to loopback themselves (RFC 6761): it is answered here, so a link to it stays
 * `blocked_address` rather than becoming a `dns_failed` whose default decision is allow.
 */

export interface ResolverLookupOptions {
  /** DNS servers (`'192.0.2.53'`, `'127.0.0.1:5353'`); default the system's (/etc/resolv.conf). */
  servers?: readonly string[];
  /** Wait for an answer per try, ms. Default 2000. */
  timeoutMs?: number;
  /** Tries per server. Default 2. */
  tries?: number;
}

export interface ResolverLookup {
  /** node:net's lookup signature, for sockets; answers `all` or the first address (IPv4 first). */
  lookup: LookupFunction;
  /** Ends every query in flight (their lookups fail with ECANCELLED). */
  cancel(): void;
}

type Answer = { address: string; family: 4 | 6 };

const LOOPBACK: Answer[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

function isLocalhost(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

async function resolveAll(resolver: Resolver, hostname: string, family: number): Promise<Answer[]> {
  if (isIP(hostname)) return [{ address: hostname, family: isIP(hostname) as 4 | 6 }];
  const answers = isLocalhost(hostname) ? LOOPBACK : undefined;
  if (answers) return answers.filter((a) => family === 0 || a.family === family);
  const queries = [
    family === 6 ? null : resolver.resolve4(hostname).then((list) => list.map((address): Answer => ({ address, family: 4 }))),
    family === 4 ? null : resolver.resolve6(hostname).then((list) => list.map((address): Answer => ({ address, family: 6 }))),
  ].filter((query) => query !== null);
  const settled = await Promise.allSettled(queries);
  const found = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
  if (found.length > 0) return found;
  // No address at all: the A query's error (a name with only AAAA records failed on A with ENODATA).
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  throw failed?.reason ?? Object.assign(new Error(`no address for ${hostname}`), { code: 'ENODATA', hostname });
}

/** A lookup with its own Resolver: `cancel()` ends only its queries. */
export function createResolverLookup(options: ResolverLookupOptions = {}): ResolverLookup {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2_000, tries: options.tries ?? 2 });
  if (options.servers) resolver.setServers([...options.servers]);
  const lookup = ((hostname: string, lookupOptions: { family?: number | string; all?: boolean }, callback: (...args: unknown[]) => void) => {
    const family = lookupOptions.family === 'IPv4' || lookupOptions.family === 4 ? 4 : lookupOptions.family === 'IPv6' || lookupOptions.family === 6 ? 6 : 0;
    resolveAll(resolver, hostname, family).then(
      (answers) => (lookupOptions.all ? callback(null, answers) : callback(null, answers[0]!.address, answers[0]!.family)),
      (error: unknown) => callback(error),
    );
  }) as unknown as LookupFunction;
  return { lookup, cancel: () => resolver.cancel() };
}
