import os from 'node:os';
import { classifyAddress, type AddressVerdict } from './address.js';
import { parseIpLiteral } from '../ip-literal.js';

/**
 * The address rule the unfurler applies to every peer: public addresses pass, except those of
 * this machine's own interfaces; everything else is refused unless the caller listed that exact
 * address (optionally with a port) in `allowPrivateAddressesFor`. The override exists so tests
 * can reach servers on 127.0.0.1; it takes literal IP addresses only (no hostnames, no ranges),
 * is never read from configuration or the environment, and every use is reported loudly.
 *
 * Own addresses: a public IPv4 address on an interface, or any global IPv6 address (IPv6 has no
 * NAT), reaches the worker itself (its metrics port listens on all interfaces), and an attacker
 * learns it from the source address of the unfurler's visit to their own server. An own public
 * address behind 1:1 NAT (a cloud's elastic IP) is not visible here and is not caught.
 */

export interface AddressPolicyOptions {
  /** This machine's addresses, any notation. Default `localInterfaceAddresses`; tests inject a list. */
  localAddresses?: () => Iterable<string>;
}

export interface AddressDecision {
  allowed: boolean;
  verdict: AddressVerdict;
  /** True when the address is not public and passed only because of the override. */
  overridden: boolean;
}

export interface AddressPolicy {
  check(address: string, port: number): AddressDecision;
  /** The override entries in normal form (`127.0.0.1`, `127.0.0.1:8080`, `[::1]:8080`); empty when off. */
  readonly overrides: readonly string[];
}

interface OverrideEntry {
  address: string;
  port?: number;
}

function parseOverride(entry: string): OverrideEntry {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4WithPort = /^([^:]+):(\d{1,5})$/.exec(text);
  const [host, portText] = bracketed ? [bracketed[1]!, bracketed[2]] : v4WithPort ? [v4WithPort[1]!, v4WithPort[2]] : [text, undefined];
  // Only plain dotted quads and IPv6 text: an override written as 2130706433 is a typo or a trick.
  const literal = parseIpLiteral(host);
  if (literal === null || (literal.version === 4 && literal.address !== host) || literal.zone !== undefined) {
    throw new TypeError(`allowPrivateAddressesFor takes literal IP addresses, optionally with a port; got ${JSON.stringify(entry)}`);
  }
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65535)) throw new TypeError(`bad port in ${JSON.stringify(entry)}`);
  return port === undefined ? { address: literal.address } : { address: literal.address, port };
}

function formatOverride(entry: OverrideEntry): string {
  const host = entry.address.includes(':') ? `[${entry.address}]` : entry.address;
  return entry.port === undefined ? entry.address : `${host}:${entry.port}`;
}

/** Addresses in normal form (`parseIpLiteral`), so that any spelling of one matches. */
function normalised(addresses: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const text of addresses) {
    const literal = parseIpLiteral(text);
    if (literal) out.add(literal.address);
  }
  return out;
}

// Interfaces gain and lose addresses (DHCP, rotating IPv6 temporary addresses): re-read often,
// but not per check (getifaddrs costs tens of microseconds).
const LOCAL_ADDRESSES_TTL_MS = 1_000;
let localCache: { readAt: number; addresses: ReadonlySet<string> } | undefined;

/** The addresses of this machine's interfaces in normal form, re-read at most once a second. */
export function localInterfaceAddresses(): ReadonlySet<string> {
  const now = performance.now();
  const age = localCache ? now - localCache.readAt : Infinity;
  // A negative age (a clock swapped under us, as tests do) counts as stale, never as fresh forever.
  if (localCache && age >= 0 && age < LOCAL_ADDRESSES_TTL_MS) return localCache.addresses;
  let addresses: ReadonlySet<string>;
  try {
    addresses = normalised(Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address)));
  } catch {
    // Some sandboxes refuse getifaddrs: keep what was last read. The range checks, which
    // catch every private and loopback address, still apply either way.
    addresses = localCache?.addresses ?? new Set();
  }
  localCache = { readAt: now, addresses };
  return addresses;
}

/** A public verdict turned into a refusal when the address, or the IPv4 one it embeds, is this machine's. */
function refuseOwn(verdict: AddressVerdict, own: ReadonlySet<string>): AddressVerdict {
  if (!verdict.allowed) return verdict;
  // Embedded too: NAT64 or 6to4 hand the packets back to the worker's own IPv4 address.
  if (!own.has(verdict.address) && (verdict.embeddedIPv4 === undefined || !own.has(verdict.embeddedIPv4))) return verdict;
  const { address, embeddedIPv4 } = verdict;
  return { allowed: false, range: 'local-interface', address, ...(embeddedIPv4 !== undefined && { embeddedIPv4 }) };
}

export function createAddressPolicy(allowPrivateAddressesFor?: readonly string[], options: AddressPolicyOptions = {}): AddressPolicy {
  const entries = (allowPrivateAddressesFor ?? []).map(parseOverride);
  const { localAddresses } = options;
  const ownAddresses = localAddresses ? () => normalised(localAddresses()) : localInterfaceAddresses;
  return {
    overrides: entries.map(formatOverride),
    check(address: string, port: number): AddressDecision {
      const classified = classifyAddress(address);
      const verdict = classified.allowed ? refuseOwn(classified, ownAddresses()) : classified;
      if (verdict.allowed) return { allowed: true, verdict, overridden: false };
      const listed = entries.some((e) => e.address === verdict.address && (e.port === undefined || e.port === port));
      return { allowed: listed, verdict, overridden: listed };
    },
  };
}

let warned = false;

/** One process warning the first time an override is used, so it shows up in any log. */
export function warnOverrideInUse(overrides: readonly string[]): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`unfurl: private-address guard OVERRIDDEN for ${overrides.join(', ')}; never do this in production`, {
    code: 'ABUSE_SCAN_PRIVATE_ADDRESS_OVERRIDE',
  });
}
