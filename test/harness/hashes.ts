/** A deterministic 256-bit hash from a seed, with `flips` leading bits inverted (to place it at a known distance). */
export function seededHash(seed: number, flips = 0): Uint8Array {
  const bytes = new Uint8Array(32);
  let x = seed * 2654435761;
  for (let i = 0; i < 32; i++) bytes[i] = (x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i) >>> 0) & 0xff;
  for (let bit = 0; bit < flips; bit++) bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
  return bytes;
}
