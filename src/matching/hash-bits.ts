import { ScanError } from '../errors.js';

/**
 * Perceptual hashes are fixed-length bit strings held as bytes, most significant bit first, so
 * that their hex form is the one hash-sharing programs exchange (PDQ: 64 hex digits, 256 bits).
 */
export type HashBytes = Uint8Array;

const POPCOUNT_8 = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT_8[i] = (i & 1) + POPCOUNT_8[i >> 1]!;

/** Parses hex (case-insensitive, no prefix) into bytes; `bits` (whole bytes) pins the expected length. */
export function hexToHash(hex: string, bits: number): HashBytes {
  // Hashes are whole bytes: a half-byte length would lose its last digit.
  if (!Number.isInteger(bits) || bits <= 0 || bits % 8 !== 0) throw new RangeError(`hash length must be a positive multiple of 8 bits, got ${bits}`);
  const trimmed = hex.trim();
  if (trimmed.length !== bits / 4 || !/^[0-9a-fA-F]*$/.test(trimmed)) {
    throw new ScanError('invalid_hash', `expected ${bits / 4} hex digits, got ${JSON.stringify(trimmed.slice(0, 80))}`);
  }
  return Uint8Array.from(Buffer.from(trimmed, 'hex'));
}

export function hashToHex(hash: HashBytes): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex');
}

/** Number of differing bits; both hashes must have the same length. */
export function hammingDistance(a: HashBytes, b: HashBytes): number {
  if (a.length !== b.length) throw new RangeError(`hash lengths differ: ${a.length} vs ${b.length}`);
  let distance = 0;
  for (let i = 0; i < a.length; i++) distance += POPCOUNT_8[a[i]! ^ b[i]!]!;
  return distance;
}

/** Population count of a 32-bit integer (SWAR), for indexes that hold hashes as Uint32 words. */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
