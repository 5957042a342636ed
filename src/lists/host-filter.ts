/**
 * A Bloom filter over hosts, checked before a list's maps: every key a list holds is reached
 * through a host (an expression's host, a URL entry's host, a domain entry itself), and every host
 * a URL can match through is the URL's host or a suffix of it after a dot (of two labels or more). Hashing the URL's host
 * once from the right gives the hash of every such suffix at each dot, so "can anything in this
 * list match this URL?" costs one pass over the host and a few bit probes in a compact array,
 * instead of several lookups in maps of a million strings (each a cache miss or more). A hit is
 * confirmed by the exact map lookups; false positives are about 0.3% per host looked up, false
 * negatives none.
 *
 * Blocked layout: a key's probes all fall in one 512-bit block (one cache line), so a probe costs
 * one memory access however many bits it tests, and 4 bits per key keep false positives low: a
 * false positive sends the URL through the map lookups, several cache misses each.
 */

/** Bits per key (at least: the filter size is a power of two); with 4 probes in a block, about 0.3% false positives. */
const BITS_PER_KEY = 16;
/** Bits of one block: 512, a 64-byte cache line. */
const BLOCK_SHIFT = 9;
const MIN_BITS = 1 << 10;

/** FNV-1a over the characters of `text[start..end)`, right to left. */
function hashRight(text: string, start: number, end: number, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = end - 1; i >= start; i--) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A second hash from the first, for the bit positions inside the block (independent of its index). */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class HostFilter {
  private readonly bits: Uint32Array;
  /** Block index mask (blocks of 512 bits = 16 words). */
  private readonly blockMask: number;
  /** Keys added (repeats counted): past `capacity` the false positive rate climbs. */
  private added = 0;

  constructor(expectedKeys: number) {
    let size = MIN_BITS;
    while (size < expectedKeys * BITS_PER_KEY && size < 2 ** 31) size *= 2;
    this.bits = new Uint32Array(size / 32);
    this.blockMask = (size >>> BLOCK_SHIFT) - 1;
  }

  add(host: string): void {
    this.added++;
    this.addHash(hashRight(host, 0, host.length));
  }

  /** Keys the filter was sized for at BITS_PER_KEY. */
  get capacity(): number {
    return (this.bits.length * 32) / BITS_PER_KEY;
  }

  get keysAdded(): number {
    return this.added;
  }

  /**
   * Whether the filter may hold `host` or a suffix of it of two or more labels (`a.b.c`: `a.b.c`,
   * `b.c`). A bare last label is never looked up through a longer host: Safe Browsing suffixes
   * stop before it and registrable domains have two labels or more. Allocation-free: one
   * right-to-left pass over the host.
   */
  mayHoldHostOrSuffix(host: string): boolean {
    let h = 0x811c9dc5;
    let dots = 0;
    for (let i = host.length - 1; i >= 0; i--) {
      const code = host.charCodeAt(i);
      if (code === 0x2e && dots++ > 0 && this.hasHash(h >>> 0)) return true;
      h = Math.imul(h ^ code, 0x01000193);
    }
    return this.hasHash(h >>> 0);
  }

  /**
   * Whether the filter may hold `host` itself: after `mayHoldHostOrSuffix` said yes, tells which
   * of the URL's hosts (exact host, expression hosts, registrable domain) are worth a map lookup.
   */
  mayHold(host: string): boolean {
    return this.hasHash(hashRight(host, 0, host.length));
  }

  /** First word of the key's block; bit positions inside it come from `mix(h)`, 9 bits each. */
  private addHash(h: number): void {
    const base = (h & this.blockMask) << 4;
    const m = mix(h);
    const bits = this.bits;
    bits[base + ((m >>> 5) & 15)]! |= 1 << (m & 31);
    bits[base + ((m >>> 14) & 15)]! |= 1 << ((m >>> 9) & 31);
    bits[base + ((m >>> 23) & 15)]! |= 1 << ((m >>> 18) & 31);
    bits[base + ((h >>> 27) & 15)]! |= 1 << ((h >>> 22) & 31);
  }

  private hasHash(h: number): boolean {
    const base = (h & this.blockMask) << 4;
    const m = mix(h);
    const bits = this.bits;
    return (
      (bits[base + ((m >>> 5) & 15)]! & (1 << (m & 31))) !== 0 &&
      (bits[base + ((m >>> 14) & 15)]! & (1 << ((m >>> 9) & 31))) !== 0 &&
      (bits[base + ((m >>> 23) & 15)]! & (1 << ((m >>> 18) & 31))) !== 0 &&
      (bits[base + ((h >>> 27) & 15)]! & (1 << ((h >>> 22) & 31))) !== 0
    );
  }
}

/** The host a list key is reached through: an expression's host part, a URL's host, a domain itself. */
export function hostOfKey(kind: 'url' | 'expression' | 'domain', value: string): string {
  if (kind === 'domain') return value;
  if (kind === 'expression') return value.slice(0, value.indexOf('/'));
  const start = value.indexOf('://') + 3;
  const end = value.indexOf('/', start);
  return value.slice(start, end < 0 ? undefined : end);
}
