import type { LookupFunction, Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { ScanError } from '../../errors.js';
import { parseIpLiteral } from '../ip-literal.js';
import type { AddressPolicy } from './address-policy.js';
import { createResolverLookup } from './resolver-lookup.js';

/**
 * The connection-level address guard. Every socket the unfurler opens goes through it, for every
 * hop, so a hostname that resolves to a private address (or re-resolves to one: DNS rebinding)
 * is refused whatever URL led there. Three checks, all against the same policy:
 * 1. a literal-IP hostname is refused before any connection is attempted;
 * 2. DNS answers are filtered inside the `lookup` the socket itself uses, so the socket can only
 *    connect to an allowed address and no packet (not even a TLS ClientHello) reaches a refused one;
 * 3. after connecting, `socket.remoteAddress` (the peer actually reached) is checked before undici
 *    gets the socket, so no HTTP byte is written to a refused peer even if 1-2 were bypassed.
 */

export interface GuardedConnectorOptions {
  policy: AddressPolicy;
  /** DNS lookup used by sockets; default c-ares (see resolver-lookup.ts). Tests inject a fake resolver here. */
  lookup?: LookupFunction;
  /** Servers the default lookup asks (`'127.0.0.1:5353'`); default the system's. Ignored with `lookup`. */
  dnsServers?: readonly string[];
  /** Connect timeout in ms (undici's connector default is 10 s); a function is read per connection. */
  connectTimeoutMs?: number | (() => number);
  /**
   * Aborting it ends every connection being set up (and its name lookups) at once; the agent of
   * createGuardedAgent is destroyed with the reason, failing its requests.
   */
  signal?: AbortSignal;
  /** Called with the peer address of every accepted connection, keyed by `protocol//hostname:port`. */
  onConnected?: (originKey: string, address: string) => void;
  /** Check 2 above. Default true; false exists only to test check 3 on its own. */
  checkResolvedAddresses?: boolean;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * Response header bytes accepted, as Chromium accepts (256 KiB). undici's default is Node's 16 KiB:
 * a redirect padded with one 20 KB header failed as `fetch_failed`, which the default policy
 * allows, while browsers followed it.
 */
export const MAX_RESPONSE_HEADER_BYTES = 256 * 1024;

/** `http://example.com:80`, `https://[::1]:8443`: how connections and hops are matched. */
export function originKey(protocol: string, hostname: string, port: string | number): string {
  const effectivePort = port === '' || port === undefined ? DEFAULT_PORTS[protocol] : Number(port);
  // undici hands the connector `::1`, a URL's hostname is `[::1]`: one spelling for both.
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const host = bare.includes(':') ? `[${bare}]` : bare;
  return `${protocol}//${host}:${effectivePort}`;
}

function blocked(host: string, address: string, range: string): ScanError {
  return new ScanError('blocked_address', `refused to connect to ${address} (${range})`, { host, address, range });
}

type LookupResult = { address: string; family: number };

/** Wraps a lookup so that only addresses the policy allows reach the socket. */
export function guardLookup(base: LookupFunction, policy: AddressPolicy, port: number): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const answers: LookupResult[] = Array.isArray(address) ? address : [{ address: address as string, family: family ?? 0 }];
      const allowed = answers.filter((a) => policy.check(a.address, port).allowed);
      if (allowed.length === 0) {
        const first = answers[0];
        const range = first ? policy.check(first.address, port).verdict.range : 'invalid';
        return callback(blocked(hostname, answers.map((a) => a.address).join(','), range), '', 0);
      }
      if (Array.isArray(address)) return (callback as (e: null, a: LookupResult[]) => void)(null, allowed);
      return callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

export function createGuardedConnector(options: GuardedConnectorOptions): buildConnector.connector {
  const { policy, signal } = options;
  const resolver = options.lookup ? undefined : createResolverLookup(options.dnsServers ? { servers: options.dnsServers } : {});
  const baseLookup = options.lookup ?? resolver!.lookup;
  // Connections being set up: undici would wait out their connect timeout, an abort should not.
  const connecting = new Set<Socket>();
  signal?.addEventListener(
    'abort',
    () => {
      resolver?.cancel();
      for (const socket of connecting) socket.destroy(signal.reason as Error);
    },
    { once: true },
  );
  return (connectOptions, callback) => {
    if (signal?.aborted) return callback(signal.reason as Error, null);
    const port = Number(connectOptions.port) || DEFAULT_PORTS[connectOptions.protocol] || 0;
    const hostname = connectOptions.hostname;
    const literal = parseIpLiteral(hostname);
    if (literal) {
      const decision = policy.check(literal.address, port);
      if (!decision.allowed) return callback(blocked(hostname, literal.address, decision.verdict.range), null);
    }
    const timeout = typeof options.connectTimeoutMs === 'function' ? options.connectTimeoutMs() : options.connectTimeoutMs;
    // Built per connection so that the lookup knows the port (overrides may be port-scoped).
    const connector = buildConnector({
      ...(timeout === undefined ? {} : { timeout }),
      ...(options.checkResolvedAddresses === false ? { lookup: baseLookup } : { lookup: guardLookup(baseLookup, policy, port) }),
    });
    // undici's connector returns the socket it opens (its type says void).
    const opening = (connector as unknown as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket)(connectOptions, (error, socket) => {
      connecting.delete(opening);
      if (error) return callback(error, null);
      const peer = (socket as Socket).remoteAddress;
      const decision = peer === undefined ? null : policy.check(peer, port);
      if (peer === undefined || !decision?.allowed) {
        socket!.destroy();
        return callback(blocked(hostname, peer ?? 'unknown', decision?.verdict.range ?? 'invalid'), null);
      }
      options.onConnected?.(originKey(connectOptions.protocol, hostname, connectOptions.port), decision.verdict.address);
      callback(null, socket!);
    });
    connecting.add(opening);
  };
}

/** An undici Agent whose every connection passes the guard. */
export function createGuardedAgent(options: GuardedConnectorOptions & { hopTimeoutMs?: number }): Agent {
  const agent = new Agent({
    connect: createGuardedConnector(options),
    headersTimeout: options.hopTimeoutMs ?? 10_000,
    bodyTimeout: options.hopTimeoutMs ?? 10_000,
    keepAliveTimeout: 1_000,
    connections: 4,
    maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
  });
  // A request aborted while its connection is set up would otherwise settle only at the connect timeout.
  const { signal } = options;
  signal?.addEventListener('abort', () => void agent.destroy(signal.reason as Error).catch(() => undefined), { once: true });
  return agent;
}
