import { classifyAddress, type AddressVerdict } from './address.js';
import { parseIpLiteral } from '../ip-literal.js';

/**
 * The address rule the unfurler applies to every peer: public addresses pass, everything else is
 * refused unless the caller listed that exact address (optionally with a port) in
 * `allowPrivateAddressesFor`. The override exists so tests can reach servers on 127.0.0.1; it
 * takes literal IP addresses only (no hostnames, no ranges), is never read from configuration
 * or the environment, and every use is reported loudly.
 */

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

export function createAddressPolicy(allowPrivateAddressesFor?: readonly string[]): AddressPolicy {
  const entries = (allowPrivateAddressesFor ?? []).map(parseOverride);
  return {
    overrides: entries.map(formatOverride),
    check(address: string, port: number): AddressDecision {
      const verdict = classifyAddress(address);
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
