/**
 * Picks the fastest exact index for a hash set (figures: see the table below, measured with
 * `npm run bench index`).
 */
import { BkTreeIndex } from './bk-tree-index.js';
import type { HashIndex } from './hash-index.js';
import { LinearIndex } from './linear-index.js';
import { MihIndex } from './mih-index.js';

/** Below this many entries the linear scan wins (no probing overhead). */
const LINEAR_MAX_SIZE = 2_000;

export function createIndex(bits: number, radius: number, expectedSize: number): HashIndex {
  if (expectedSize <= LINEAR_MAX_SIZE) return new LinearIndex(bits, expectedSize);
  if (bits <= 64 && radius <= 2) return new BkTreeIndex(bits, expectedSize);
  return new MihIndex(bits, { designRadius: radius, expectedSize });
}
