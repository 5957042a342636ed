/**
 * A small seeded PRNG (mulberry32) for fixtures, property tests and benchmarks: reproducible
 * across platforms and runs, unlike Math.random. Returns numbers in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` uniformly random 256-bit hashes from `seed` (index and rebuild tests). */
export function seededHashes(seed: number, count: number): Uint8Array[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)));
}

/** A copy of `hash` with `flips` bits inverted, one per byte: at distance `flips` (up to 32). */
export function nearHash(hash: Uint8Array, flips: number): Uint8Array {
  const copy = Uint8Array.from(hash);
  for (let bit = 0; bit < flips; bit++) copy[(bit * 37) % 32]! ^= 1 << bit % 8;
  return copy;
}
