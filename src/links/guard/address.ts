import { formatIPv4, parseIpLiteral, type IpLiteral } from '../ip-literal.js';

/**
 * Decides whether the unfurler may talk to an IP address. Only globally routable unicast is
 * allowed: anything that reaches the worker itself, its private network, the cloud metadata
 * service (169.254.169.254) or a special-purpose block is refused. Addresses that embed an IPv4
 * address (IPv4-mapped, NAT64, 6to4) are judged by the embedded address, because that is where
 * the packets end up. Pure logic: no I/O.
 */

export type BlockedRange =
  | 'invalid'
  | 'unspecified'
  | 'this-network'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'ietf-protocol'
  | 'documentation'
  | 'benchmarking'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'unique-local'
  | 'site-local'
  | 'ipv4-compatible'
  | 'nat64-local'
  | 'teredo'
  | 'discard-only'
  /** Public, but assigned to this machine: set by the address policy, never by this pure module. */
  | 'local-interface';

export type AddressVerdict =
  | { allowed: true; range: 'public'; address: string; embeddedIPv4?: string }
  | { allowed: false; range: BlockedRange; address: string; embeddedIPv4?: string; via?: EmbeddingKind };

/** How an IPv6 address carried the IPv4 address it was judged by. */
export type EmbeddingKind = 'ipv4-mapped' | 'ipv4-translated' | 'nat64' | '6to4';

interface Ipv4Block {
  base: number;
  bits: number;
  range: BlockedRange;
}

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

// Order matters only where blocks nest: the broadcast address sits inside 240/4.
const IPV4_BLOCKS: readonly Ipv4Block[] = [
  { base: v4(255, 255, 255, 255), bits: 32, range: 'broadcast' },
  { base: v4(0, 0, 0, 0), bits: 32, range: 'unspecified' },
  { base: v4(0, 0, 0, 0), bits: 8, range: 'this-network' },
  { base: v4(10, 0, 0, 0), bits: 8, range: 'private' },
  { base: v4(100, 64, 0, 0), bits: 10, range: 'cgnat' },
  { base: v4(127, 0, 0, 0), bits: 8, range: 'loopback' },
  { base: v4(169, 254, 0, 0), bits: 16, range: 'link-local' },
  { base: v4(172, 16, 0, 0), bits: 12, range: 'private' },
  { base: v4(192, 0, 0, 0), bits: 24, range: 'ietf-protocol' },
  { base: v4(192, 0, 2, 0), bits: 24, range: 'documentation' },
  { base: v4(192, 88, 99, 0), bits: 24, range: 'reserved' }, // deprecated 6to4 relay anycast
  { base: v4(192, 168, 0, 0), bits: 16, range: 'private' },
  { base: v4(198, 18, 0, 0), bits: 15, range: 'benchmarking' },
  { base: v4(198, 51, 100, 0), bits: 24, range: 'documentation' },
  { base: v4(203, 0, 113, 0), bits: 24, range: 'documentation' },
  { base: v4(224, 0, 0, 0), bits: 4, range: 'multicast' },
  { base: v4(240, 0, 0, 0), bits: 4, range: 'reserved' },
];

function inV4Block(value: number, block: Ipv4Block): boolean {
  if (block.bits === 0) return true;
  const shift = 32 - block.bits;
  return value >>> shift === block.base >>> shift;
}

/** Classifies an IPv4 address given as an unsigned 32-bit integer. */
export function classifyIPv4(value: number): AddressVerdict {
  const address = formatIPv4(value);
  for (const block of IPV4_BLOCKS) {
    if (inV4Block(value, block)) return { allowed: false, range: block.range, address };
  }
  return { allowed: true, range: 'public', address };
}

/** True when the first `bits` bits of `words` equal those of `prefix` (both 8 x 16-bit words). */
function inV6Prefix(words: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((words[i]! & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

function embedded(words: readonly number[], index: number): number {
  return words[index]! * 0x10000 + words[index + 1]!;
}

function judgeEmbedded(address: string, ipv4: number, via: EmbeddingKind): AddressVerdict {
  const inner = classifyIPv4(ipv4);
  if (inner.allowed) return { allowed: true, range: 'public', address, embeddedIPv4: inner.address };
  return { allowed: false, range: inner.range, address, embeddedIPv4: inner.address, via };
}

interface Ipv6Block {
  prefix: number[];
  bits: number;
  range: BlockedRange;
}

// Checked after the exact and embedding cases below; first match wins, so nested blocks come first.
const IPV6_BLOCKS: readonly Ipv6Block[] = [
  { prefix: [0x64, 0xff9b, 1], bits: 48, range: 'nat64-local' }, // RFC 8215: never global
  { prefix: [0x100], bits: 64, range: 'discard-only' },
  { prefix: [0x2001, 0], bits: 32, range: 'teredo' }, // tunnels to an arbitrary IPv4 client
  { prefix: [0x2001, 0x2, 0], bits: 48, range: 'benchmarking' },
  { prefix: [0x2001, 0xdb8], bits: 32, range: 'documentation' },
  { prefix: [0x2001, 0], bits: 23, range: 'ietf-protocol' },
  { prefix: [0x3fff], bits: 20, range: 'documentation' }, // RFC 9637
  { prefix: [0x5f00], bits: 16, range: 'reserved' }, // SRv6 SIDs, RFC 9602
  { prefix: [0xfc00], bits: 7, range: 'unique-local' },
  { prefix: [0xfe80], bits: 10, range: 'link-local' },
  { prefix: [0xfec0], bits: 10, range: 'site-local' },
  { prefix: [0xff00], bits: 8, range: 'multicast' },
];

/** Classifies an IPv6 address given as eight 16-bit words. */
export function classifyIPv6(words: readonly number[], address: string): AddressVerdict {
  const firstSix = words.slice(0, 6);
  const zeroPrefix = firstSix.every((w) => w === 0);
  if (zeroPrefix && words[6] === 0 && words[7] === 0) return { allowed: false, range: 'unspecified', address };
  if (zeroPrefix && words[6] === 0 && words[7] === 1) return { allowed: false, range: 'loopback', address };
  // ::ffff:a.b.c.d is how dual-stack sockets show IPv4 peers: judge the IPv4 address.
  if (inV6Prefix(words, [0, 0, 0, 0, 0, 0xffff], 96)) return judgeEmbedded(address, embedded(words, 6), 'ipv4-mapped');
  if (inV6Prefix(words, [0, 0, 0, 0, 0xffff, 0], 96)) return judgeEmbedded(address, embedded(words, 6), 'ipv4-translated');
  // Deprecated IPv4-compatible form (::a.b.c.d): no legitimate use left, refused outright.
  if (zeroPrefix) return { allowed: false, range: 'ipv4-compatible', address, embeddedIPv4: formatIPv4(embedded(words, 6)) };
  if (inV6Prefix(words, [0x64, 0xff9b, 0, 0, 0, 0], 96)) return judgeEmbedded(address, embedded(words, 6), 'nat64');
  if (inV6Prefix(words, [0x2002], 16)) return judgeEmbedded(address, embedded(words, 1), '6to4');
  for (const block of IPV6_BLOCKS) {
    if (inV6Prefix(words, block.prefix, block.bits)) return { allowed: false, range: block.range, address };
  }
  // Global unicast is 2000::/3; everything else is unassigned or special.
  if (!inV6Prefix(words, [0x2000], 3)) return { allowed: false, range: 'reserved', address };
  return { allowed: true, range: 'public', address };
}

/** Classifies a parsed literal. */
export function classifyLiteral(literal: IpLiteral): AddressVerdict {
  if (literal.version === 4) return classifyIPv4(literal.ipv4!);
  return classifyIPv6(literal.words!, literal.address);
}

/**
 * Classifies an IP address given as text in any notation (`127.0.0.1`, `2130706433`, `0x7f.1`,
 * `0177.0.0.1`, `::1`, `[::ffff:127.0.0.1]`, `fe80::1%eth0`). Text that is not an IP literal is
 * refused with range `invalid`: a caller asking about an address must have an address.
 */
export function classifyAddress(text: string): AddressVerdict {
  const literal = parseIpLiteral(text);
  if (literal === null) return { allowed: false, range: 'invalid', address: text };
  return classifyLiteral(literal);
}

export function isPublicAddress(text: string): boolean {
  return classifyAddress(text).allowed;
}
