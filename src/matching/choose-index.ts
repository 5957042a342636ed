/**
 * Picks the fastest exact index for a hash set's shape. Measured on the development machine (2 shared
 * cores, other test suites running: figures are +-30%), random hashes, half near-copy queries, in
 * queries/s, warm JIT (npm run bench index, and a grid over the same three indexes):
 *
 * | bits | entries | radius | linear  | BK-tree   | MIH (default layout)  |
 * | ---- | ------- | ------ | ------- | --------- | --------------------- |
 * | 256  | 100     | 31     | ~330k   | ~230k     | ~320k                 |
 * | 256  | 1k      | 31     | ~100k   | ~34k      | ~275k                 |
 * | 256  | 10k     | 31     | ~9-30k  | ~3k       | ~49k                  |
 * | 256  | 100k    | 31     | ~1k     | ~150      | ~35k                  |
 * | 256  | 1M      | 31     | 88      | hopeless  | ~9k (m=12, 22/21-bit) |
 * | 256  | 10M     | 31     | ~9      | hopeless  | ~2.7k (m=11, 24/23)   |
 * | 256  | 100k    | 8      | ~2.6k   | ~1.5k     | ~270k                 |
 * | 256  | 100k    | 0      | ~2.3k   | ~850k     | ~950k (warm)          |
 * | 64   | 100k    | 0      | ~3.8k   | ~1.1M     | ~0.1-0.9M             |
 * | 64   | 100k    | 2      | ~3.9k   | ~35k      | ~100k                 |
 * | 64   | 1M      | 0      | 370     | ~550k     | ~290k                 |
 * | 64   | 1M      | 8      | 380     | 27        | ~29k                  |
 *
 * So: the linear scan for sets of a few hundred entries (no probing overhead, sequential memory);
 * the BK-tree only for exact lookups (radius 0), where it descends a single path and needs no
 * direct tables; MIH for everything else (its probing falls back to a scan by itself when the radius
 * is so large that enumerating key neighbourhoods would cost more). The BK-tree loses at any useful
 * radius: at 256 bits / r = 31 a query visits ~98% of the nodes (bench output), at 64 bits / r = 8
 * it is slower than the linear scan.
 */
import { BkTreeIndex } from './bk-tree-index.js';
import type { HashIndex } from './hash-index.js';
import { LinearIndex } from './linear-index.js';
import { MihIndex } from './mih-index.js';

/** Up to this many entries the linear scan is as fast as anything and uses the least memory. */
export const LINEAR_MAX_SIZE = 512;

/**
 * An exact index for `bits`-bit hashes queried mostly at `radius`, sized for `expectedSize` entries.
 * Any index answers any radius exactly; the choice only affects speed and memory.
 */
export function createIndex(bits: number, radius: number, expectedSize: number): HashIndex {
  if (expectedSize <= LINEAR_MAX_SIZE) return new LinearIndex(bits, expectedSize);
  if (radius === 0) return new BkTreeIndex(bits, expectedSize);
  return new MihIndex(bits, { designRadius: radius, expectedSize });
}
