import dns from 'node:dns';
import type { LookupFunction, Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { ScanError } from '../../errors.js';
import { parseIpLiteral } from '../ip-literal.js';
import type { AddressPolicy } from './address-policy.js';

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
  /** DNS lookup used by sockets; default `dns.lookup`. Tests inject a fake resolver here. */
  lookup?: LookupFunction;
  /** Connect timeout in ms (undici's connector default is 10 s). */
  connectTimeoutMs?: number;
  /** Called with the peer address of every accepted connection, keyed by `protocol//hostname:port`. */
  onConnected?: (originKey: string, address: string) => void;
  /** Check 2 above. Default true; false exists only to test check 3 on its own. */
  checkResolvedAddresses?: boolean;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

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
  const { policy } = options;
  const baseLookup = options.lookup ?? (dns.lookup as unknown as LookupFunction);
  return (connectOptions, callback) => {
    const port = Number(connectOptions.port) || DEFAULT_PORTS[connectOptions.protocol] || 0;
    const hostname = connectOptions.hostname;
    const literal = parseIpLiteral(hostname);
    if (literal) {
      const decision = policy.check(literal.address, port);
      if (!decision.allowed) return callback(blocked(hostname, literal.address, decision.verdict.range), null);
    }
    // Built per connection so that the lookup knows the port (overrides may be port-scoped).
    const connector = buildConnector({
      ...(options.connectTimeoutMs === undefined ? {} : { timeout: options.connectTimeoutMs }),
      ...(options.checkResolvedAddresses === false ? { lookup: baseLookup } : { lookup: guardLookup(baseLookup, policy, port) }),
    });
    connector(connectOptions, (error, socket) => {
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
  };
}

/** An undici Agent whose every connection passes the guard. */
export function createGuardedAgent(options: GuardedConnectorOptions & { hopTimeoutMs?: number }): Agent {
  return new Agent({
    connect: createGuardedConnector(options),
    headersTimeout: options.hopTimeoutMs ?? 10_000,
    bodyTimeout: options.hopTimeoutMs ?? 10_000,
    keepAliveTimeout: 1_000,
    connections: 4,
  });
}
