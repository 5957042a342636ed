/**
 * Deterministic, uniformly spread hash bytes for benchmarks: entry `id` always has the same hash
 * (splitmix32-style mixing over the id and the word), so a set of any size is rebuilt identically
 * without storing it.
 */
export function syntheticHash(id: number, bytes: number, into: Uint8Array = new Uint8Array(bytes)): Uint8Array {
  for (let w = 0; w < bytes / 4; w++) {
    let x = (Math.imul(id, 0x9e3779b9) + Math.imul(w + 1, 0x85ebca6b)) | 0;
    x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
    x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
    x ^= x >>> 15;
    into[w * 4] = x >>> 24;
    into[w * 4 + 1] = x >>> 16;
    into[w * 4 + 2] = x >>> 8;
    into[w * 4 + 3] = x;
  }
  return into;
}
