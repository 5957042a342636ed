/**
 * A Bloom filter over hosts, checked before a list's maps: every key a list holds is reached
 * through a host (an expression's host, a URL entry's host, a domain entry itself), and every host
 * a URL can match through is the URL's host or a suffix of it after a dot (of two labels or more). Hashing the URL's host
 * once from the right gives the hash of every such suffix at each dot, so "can anything in this
 * list match this URL?" costs one pass over the host and a few bit probes in a compact array,
 * instead of several lookups in maps of a million strings (each a cache miss or more). A hit is
 * confirmed by the exact map lookups; false positives are about 1.5%, false negatives none.
 */

/** Bits per key: with 2 probes, about 1.5% false positives. */
const BITS_PER_KEY = 16;
const MIN_BITS = 1 << 10;

/** FNV-1a over the characters of `text[start..end)`, right to left. */
function hashRight(text: string, start: number, end: number, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = end - 1; i >= start; i--) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Second probe from the first hash (double hashing); odd, so probes differ. */
function secondProbe(h: number): number {
  return (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0) | 1;
}

export class HostFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor(expectedKeys: number) {
    let size = MIN_BITS;
    while (size < expectedKeys * BITS_PER_KEY && size < 2 ** 31) size *= 2;
    this.bits = new Uint32Array(size / 32);
    this.mask = size - 1;
  }

  add(host: string): void {
    this.addHash(hashRight(host, 0, host.length));
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

  private addHash(h: number): void {
    const a = h & this.mask;
    const b = (h + secondProbe(h)) & this.mask;
    this.bits[a >>> 5]! |= 1 << (a & 31);
    this.bits[b >>> 5]! |= 1 << (b & 31);
  }

  private hasHash(h: number): boolean {
    const a = h & this.mask;
    if ((this.bits[a >>> 5]! & (1 << (a & 31))) === 0) return false;
    const b = (h + secondProbe(h)) & this.mask;
    return (this.bits[b >>> 5]! & (1 << (b & 31))) !== 0;
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
