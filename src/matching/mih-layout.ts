/**
 * How multi-index hashing cuts a hash into substrings, and how far each substring table is searched.
 *
 * Pigeonhole (Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with Multi-Index Hashing"):
 * split b bits into m disjoint substrings and write r = q*m + a with 0 <= a < m. If a stored hash is
 * within r of the query, then among ANY a+1 chosen substrings one is within q bits, or among the other
 * m-a-1 one is within q-1 bits (otherwise the total would be >= (a+1)(q+1) + (m-a-1)q = r+1). So the
 * a+1 tables are probed at sub-radius q and the rest at q-1 (skipped outright when q = 0). The
 * argument holds for any widths, and for substrings that leave some bits out (those bits only add
 * to the distance), so the widths are free: chooseSubstrings gives the tables searched at q-1,
 * which probe far fewer keys, fewer bits than the others.
 *
 * The cost of one query is roughly (keys probed) x (probe cost + expected bucket size x verify cost);
 * wider substrings shrink buckets (N / 2^w) but the key neighbourhood sum_{k<=rho} C(w, k) grows fast.
 * The best width is near log2(N) (the paper's advice), bounded by the memory of direct offset tables.
 */

/** One substring: bits [start, start + width) of the hash, MSB first. */
export interface Substring {
  start: number;
  width: number;
}

/** Widest substring a direct table may key on (2^26 offsets = 256 MB is already a lot). */
export const MAX_SUBSTRING_WIDTH = 26;

/**
 * Relative costs, in units of one bucket probe into tables too big for the CPU caches (a miss into
 * the offsets), calibrated with bench/index.bench.ts on 256-bit hashes: a candidate costs two misses
 * (its slot in the bucket, then its packed hash); both are far cheaper while the arrays fit in cache.
 */
const PROBE_COST_UNCACHED = 1;
const PROBE_COST_CACHED = 0.3;
const CANDIDATE_COST_UNCACHED = 2;
const CANDIDATE_COST_CACHED = 0.5;
/** A bucket of two or more slots costs one more miss (into its list) than an inline one. */
const LIST_COST_UNCACHED = 1;
const LIST_COST_CACHED = 0.3;
/** Roughly what stays cache-resident (L2 on the development machine). */
const CACHE_BYTES = 4 * 2 ** 20;
/** Offsets tables may use this many 4-byte words per expected entry (at least 2^20 in all). */
const OFFSET_WORDS_PER_ENTRY = 40;
/** One entry of a sequential linear scan, in the same units (11 ms per 1M 256-bit hashes). */
export const LINEAR_COST_PER_ENTRY = 0.2;

/** Splits `bits` into `count` near-equal disjoint substrings (wider ones first). */
export function splitIntoSubstrings(bits: number, count: number): Substring[] {
  const substrings: Substring[] = [];
  const narrow = Math.floor(bits / count);
  const wideCount = bits - narrow * count;
  let start = 0;
  for (let i = 0; i < count; i++) {
    const width = narrow + (i < wideCount ? 1 : 0);
    substrings.push({ start, width });
    start += width;
  }
  return substrings;
}

/** Number of keys within `radius` bits of a `width`-bit key: sum of C(width, k) for k <= radius. */
export function neighbourhoodSize(width: number, radius: number): number {
  let total = 0;
  let term = 1;
  for (let k = 0; k <= Math.min(radius, width); k++) {
    total += term;
    term = (term * (width - k)) / (k + 1);
  }
  return total;
}

/** Expected work of one query over `size` uniform hashes (units: see above). */
export function estimateQueryCost(widths: ArrayLike<number>, radii: ArrayLike<number>, size: number): number {
  let offsetBytes = 0;
  for (let t = 0; t < widths.length; t++) offsetBytes += 4 * 2 ** widths[t]!;
  const probeCost = offsetBytes <= CACHE_BYTES ? PROBE_COST_CACHED : PROBE_COST_UNCACHED;
  const candidateCost = size * 36 <= CACHE_BYTES ? CANDIDATE_COST_CACHED : CANDIDATE_COST_UNCACHED;
  const listCost = offsetBytes <= CACHE_BYTES ? LIST_COST_CACHED : LIST_COST_UNCACHED;
  let cost = 0;
  for (let t = 0; t < widths.length; t++) {
    const radius = radii[t]!;
    if (radius < 0) continue;
    const probes = neighbourhoodSize(widths[t]!, radius);
    const perBucket = size / 2 ** widths[t]!; // Poisson: P(bucket holds 2+) = 1 - e^-l (1 + l)
    const listShare = 1 - Math.exp(-perBucket) * (1 + perBucket);
    cost += probes * (probeCost + listShare * listCost + perBucket * candidateCost);
  }
  return cost;
}

/**
 * Sub-radius per table for a query radius: a+1 tables at q, the others at q-1 (-1 = skip the table).
 * The tables promoted to q are those where the extra probing costs least.
 */
export function allocateSubRadii(widths: readonly number[], radius: number, size: number): Int32Array {
  const m = widths.length;
  const q = Math.floor(radius / m);
  const promoted = radius - q * m + 1;
  const radii = new Int32Array(m).fill(q - 1);
  const extraCost = widths.map((width, table) => {
    const low = q - 1 < 0 ? 0 : neighbourhoodSize(width, q - 1) * (1 + size / 2 ** width);
    return { table, extra: neighbourhoodSize(width, q) * (1 + size / 2 ** width) - low };
  });
  extraCost.sort((x, y) => x.extra - y.extra || x.table - y.table);
  for (let i = 0; i < promoted; i++) radii[extraCost[i]!.table] = q;
  return radii;
}

/**
 * Picks the substrings for a design point: how many, and how wide each one is. For r = q*m + a the
 * a+1 tables searched at sub-radius q cost far more per key than the m-a-1 searched at q-1, so
 * widths need not be equal: each candidate count m is tried with every split of the bits between
 * the two groups (near-equal widths within a group), and the cheapest layout under the cost model
 * wins. At 256 bits / r = 31 / 10M entries this gives the ten sub-radius-2 tables 24 or 23 bits and
 * the sub-radius-1 table 20 (even split: 24/23 everywhere, the cheap table getting as many bits as
 * the dear ones). Offsets tables cost 4 bytes per key of the key space whatever the set size, so
 * their total is capped by OFFSET_WORDS_PER_ENTRY.
 */
export function chooseSubstrings(bits: number, radius: number, expectedSize: number): Substring[] {
  const cacheKey = `${bits}:${radius}:${expectedSize}`;
  const cached = layoutCache.get(cacheKey);
  if (cached) return cached.map((part) => ({ ...part }));
  const layout = searchSubstrings(bits, radius, expectedSize);
  if (layoutCache.size >= 256) layoutCache.clear();
  layoutCache.set(cacheKey, layout);
  return layout.map((part) => ({ ...part }));
}

/** chooseSubstrings' answers by (bits, radius, size): its search takes tens of ms at 256 bits. */
const layoutCache = new Map<string, Substring[]>();

function searchSubstrings(bits: number, radius: number, expectedSize: number): Substring[] {
  const size = Math.max(1, expectedSize);
  const offsetBudget = Math.max(2 ** 20, OFFSET_WORDS_PER_ENTRY * size);
  let best = splitIntoSubstrings(bits, Math.max(1, Math.ceil(bits / MAX_SUBSTRING_WIDTH)));
  let bestCost = Infinity;
  const consider = (widths: number[]): void => {
    if (widths.some((width) => width < 1 || width > MAX_SUBSTRING_WIDTH)) return;
    if (widths.reduce((sum, width) => sum + 2 ** width, 0) > offsetBudget) return;
    const cost = estimateQueryCost(widths, allocateSubRadii(widths, radius, size), size);
    if (cost < bestCost) {
      bestCost = cost;
      best = substringsOf(widths);
    }
  };
  for (let count = Math.ceil(bits / MAX_SUBSTRING_WIDTH); count <= Math.min(bits, 64); count++) {
    consider(splitIntoSubstrings(bits, count).map((part) => part.width));
    const q = Math.floor(radius / count);
    const high = radius - q * count + 1; // tables searched at q; the others at q-1
    const low = count - high;
    if (low === 0 || q === 0) continue; // one group only (or the low group is skipped anyway)
    for (let lowBits = low; lowBits <= Math.min(low * MAX_SUBSTRING_WIDTH, bits - high); lowBits++) {
      const highWidths = splitIntoSubstrings(bits - lowBits, high).map((part) => part.width);
      const lowWidths = splitIntoSubstrings(lowBits, low).map((part) => part.width);
      consider([...highWidths, ...lowWidths]);
    }
  }
  return best;
}

/** Consecutive substrings of the given widths from bit 0. */
export function substringsOf(widths: readonly number[]): Substring[] {
  let start = 0;
  return widths.map((width) => {
    const substring = { start, width };
    start += width;
    return substring;
  });
}

/** Extra bytes per entry the inlined hash words of bucket lists may take, over all tables. */
export const INLINE_BYTES_PER_ENTRY = 36;
/** Hash words copied into list entries: 96 bits rule out a random candidate at r = 31 of 256. */
export const INLINE_WORDS = 3;

/**
 * Which tables copy hash words into their bucket-list entries (SubstringTable.inlineWords), so
 * that a candidate from a list is screened on its first bits in the list's own cache line instead
 * of costing a miss into the packed store. Each inlined word costs 4 bytes per list entry, and a
 * table's lists hold N (1 - e^-l) entries (l = N / 2^width); what it saves is the candidates it
 * draws from lists, about probes x l (1 - e^-l) per query. So the saving per byte is proportional
 * to probes / 2^width: tables are taken in that order while their cost fits INLINE_BYTES_PER_ENTRY.
 * At 256 bits / r = 31 / 10M entries that is the four 23-bit tables and the 20-bit one, which
 * draw most of their candidates from lists (~2,600 -> ~1,500 misses into the store per query).
 * Only worth it when the inlined bits rule out most random candidates at the radius.
 */
export function chooseInlineWords(widths: readonly number[], radius: number, size: number, wordCount: number): number[] {
  const inline = Math.min(INLINE_WORDS, wordCount);
  const words = widths.map(() => 0);
  // A random hash differs from the query in half of the inlined bits: keep well clear of r.
  if (radius >= 0.4 * 32 * inline) return words;
  const radii = allocateSubRadii(widths, radius, size);
  const order = widths
    .map((width, table) => ({ table, gain: radii[table]! < 0 ? 0 : neighbourhoodSize(width, radii[table]!) / 2 ** width }))
    .filter(({ gain }) => gain > 0)
    .sort((x, y) => y.gain - x.gain || x.table - y.table);
  let budget = INLINE_BYTES_PER_ENTRY;
  for (const { table } of order) {
    const perBucket = size / 2 ** widths[table]!;
    const cost = 4 * inline * (1 - Math.exp(-perBucket)); // bytes per entry
    if (cost > budget) break;
    budget -= cost;
    words[table] = inline;
  }
  return words;
}

const maskCache = new Map<string, Uint32Array>();

/** Every `width`-bit mask with at most `radius` bits set (XOR one into a key to get a neighbour). */
export function flipMasks(width: number, radius: number): Uint32Array {
  const cacheKey = `${width}:${radius}`;
  const cached = maskCache.get(cacheKey);
  if (cached) return cached;
  const masks = new Uint32Array(neighbourhoodSize(width, radius));
  let count = 0;
  const extend = (mask: number, lowestBit: number, bitsLeft: number): void => {
    masks[count++] = mask;
    if (bitsLeft === 0) return;
    for (let bit = lowestBit; bit < width; bit++) extend((mask | (1 << bit)) >>> 0, bit + 1, bitsLeft - 1);
  };
  extend(0, 0, Math.min(radius, width));
  maskCache.set(cacheKey, masks);
  return masks;
}

/** Reads bits [start, start + width) (width <= 31) of packed big-endian words as an unsigned key. */
export function extractKey(words: Uint32Array, base: number, start: number, width: number): number {
  const word = base + (start >>> 5);
  const offset = start & 31;
  const end = offset + width;
  if (end <= 32) return (words[word]! << offset) >>> (32 - width);
  const tailBits = end - 32;
  const head = (words[word]! << offset) >>> (32 - width); // top bits, already shifted into place
  return (head | (words[word + 1]! >>> (32 - tailBits))) >>> 0;
}
