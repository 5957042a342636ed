/**
 * Picks the fastest exact index for a hash set's shape. Measured on the development machine (2 shared
 * cores, other test suites running: figures are +-30%), random hashes, half near-copy queries, in
 * queries/s, warm JIT (npm run bench index, and a grid over the same three indexes):
 *
 * | bits | entries | radius | linear | BK-tree  | MIH (default layout)   |
 * | ---- | ------- | ------ | ------ | -------- | ---------------------- |
 * | 256  | 100     | 31     | 590k   | 315k     | 110k                   |
 * | 256  | 100     | 0      | 390k   | 3.1M     | 700k                   |
 * | 256  | 1k      | 31     | 98k    | 30k      | 238k                   |
 * | 256  | 1k      | 0      | 263k   | 2.2M     | 1.0M                   |
 * | 256  | 10k     | 31     | 10k    | 2.8k     | 108k                   |
 * | 256  | 10k     | 8      | 31k    | 15k      | 716k                   |
 * | 256  | 100k    | 31     | 1.05k  | 137      | 35k                    |
 * | 256  | 100k    | 8      | 2.3k   | 1.5k     | 220k                   |
 * | 256  | 100k    | 0      | 2.2k   | 835k     | 529k                   |
 * | 256  | 1M      | 31     | 71     | hopeless | 12.4k (m=12, 22/20)    |
 * | 256  | 1M (1)  | 31     | 73     | hopeless | 12.8k                  |
 * | 256  | 10M     | 31     | 7.2    | hopeless | 3.9k (m=11, 24/23/20)  |
 * | 256  | 10M (1) | 31     | 7.3    | hopeless | 4.65k                  |
 * | 64   | 100k    | 0      | 3.5k   | 927k     | 293k                   |
 * | 64   | 100k    | 2      | 3.7k   | 36k      | 385k                   |
 * | 64   | 100k    | 8      | 3.7k   | 663      | 69k                    |
 * | 64   | 1M      | 0      | 344    | 456k     | 377k                   |
 * | 64   | 1M      | 2      | 350    | 3.9k     | 295k                   |
 * | 64   | 1M      | 8      | 345    | 27       | 33k                    |
 *
 * (1) with transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1): fewer TLB misses.
 * The 1M and 10M rows are medians of 3 runs of the bench after the uneven layout and inlined hash
 * words (mih-layout.ts); on the same day the previous layout measured 11.3k / 11.8k (1M) and
 * 3.44k / 4.10k (10M), and under heavier load from other suites, 9.4-9.6k and 2.9-3.0k / 3.4k.
 * BK-tree at 256 bits / r = 31 on 100k entries: 150-170 queries/s, 0.15x the linear scan.
 *
 * So: the linear scan for sets of a few hundred entries (no probing overhead, sequential memory;
 * the crossover with MIH lies between 100 and 1,000 entries);
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
