/**
 * `npm run bench index [--size N] [--queries Q] [--radius R] [--substrings M | --widths W,W,...]
 * [--inline-words K] [--bk-size N] [--copies N] [--huge-pages on|off|both]`
 * (for memory figures: `node --expose-gc --import tsx bench/run.ts index ...`).
 *
 * Huge pages: MIH at millions of entries is bound by cache and TLB misses, and glibc only asks for
 * transparent huge pages on its large allocations (the index's typed arrays) when started with
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (the kernel's THP mode here is `madvise`). Tunables are read
 * at process start, so unless GLIBC_TUNABLES already sets glibc.malloc.hugetlb, the bench re-runs
 * itself with it (`--huge-pages on`, as deployed), and says so; `--huge-pages off` measures without,
 * `--huge-pages both` runs once each way (the default up to 2M entries, where a run is cheap; `on`
 * above).
 *
 * Random 256-bit hashes (regenerated from their id, so the bench holds no copy of the data set);
 * queries are half near copies of stored entries (k flipped bits, k uniform in 0..31) and half random
 * misses. Reports build time, memory per entry, queries/s of the linear scan, MIH and the BK-tree
 * (on a subset when the set is large), speed-ups over the linear scan, and whether all answers were
 * identical (exit code 1 if not). Then the cost of changes when many entries share one hash (one
 * image imported many times, near-blank frames): `--copies` (default 20,000) entries of one hash
 * added to MIH and the BK-tree, indexed and removed, beside as many distinct hashes; 0 skips it.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { BkTreeIndex } from '../src/matching/bk-tree-index.js';
import type { HashIndex, HashMatch } from '../src/matching/hash-index.js';
import { LinearIndex } from '../src/matching/linear-index.js';
import { MihIndex } from '../src/matching/mih-index.js';
import { syntheticHash } from './synthetic-hashes.js';

const BITS = 256;
const BYTES = BITS / 8;
const hashOf = (id: number, into?: Uint8Array) => syntheticHash(id, BYTES, into);
/** Linear scans stop after this long (they are the slow baseline); later queries are skipped. */
const LINEAR_TIME_BUDGET_MS = 4_000;

interface Options {
  size: number;
  queries: number;
  radius: number;
  substrings: number | undefined;
  widths: number[] | undefined;
  inlineWords: number | undefined;
  bkSize: number;
  copies: number;
  hugePages: 'on' | 'off' | 'both';
}

function parseArgs(args: string[]): Options {
  const value = (name: string): number | undefined => {
    const at = args.indexOf(`--${name}`);
    if (at < 0) return undefined;
    const parsed = Number(args[at + 1]);
    if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${name} needs a non-negative integer`);
    return parsed;
  };
  const size = value('size') ?? 1_000_000;
  const text = (name: string): string | undefined => {
    const at = args.indexOf(`--${name}`);
    return at < 0 ? undefined : args[at + 1];
  };
  const hugePages = text('huge-pages') ?? (size <= 2_000_000 ? 'both' : 'on');
  if (hugePages !== 'on' && hugePages !== 'off' && hugePages !== 'both') throw new Error('--huge-pages takes on, off or both');
  const widths = text('widths')?.split(',').map(Number);
  return {
    hugePages,
    widths,
    inlineWords: value('inline-words'),
    size,
    queries: value('queries') ?? 2_000,
    radius: value('radius') ?? 31,
    substrings: value('substrings'),
    bkSize: Math.min(size, value('bk-size') ?? 100_000),
    copies: value('copies') ?? 20_000,
  };
}


function makeQueries(options: Options, population: number, seed: number): Uint8Array[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const queries: Uint8Array[] = [];
  for (let i = 0; i < options.queries; i++) {
    if (i % 2 === 0) {
      const hash = hashOf(Math.floor(random() * population));
      const flips = Math.floor(random() * 32);
      for (let k = 0; k < flips; k++) {
        const bit = Math.floor(random() * BITS);
        hash[bit >> 3]! ^= 0x80 >> (bit & 7);
      }
      queries.push(hash);
    } else {
      queries.push(hashOf(0x40000000 + Math.floor(random() * 0x3fffffff))); // ids never stored
    }
  }
  return queries;
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

interface Built<T extends HashIndex> {
  index: T;
  seconds: number;
  rssDelta: number;
  heapDelta: number;
}

function build<T extends HashIndex>(make: () => T, size: number, finish?: (index: T) => void): Built<T> {
  collect();
  const before = process.memoryUsage();
  const started = performance.now();
  const index = make();
  const scratch = new Uint8Array(BYTES);
  for (let id = 0; id < size; id++) index.add(id, hashOf(id, scratch));
  finish?.(index);
  const seconds = (performance.now() - started) / 1000;
  collect();
  const after = process.memoryUsage();
  const heapDelta = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  return { index, seconds, rssDelta: after.rss - before.rss, heapDelta };
}

interface Timed {
  answers: HashMatch[][];
  qps: number;
}

function run(index: HashIndex, queries: Uint8Array[], radius: number, budgetMs = Infinity): Timed {
  const answers: HashMatch[][] = [];
  const started = performance.now();
  for (const query of queries) {
    answers.push(index.query(query, radius));
    if (performance.now() - started > budgetMs) break;
  }
  return { answers, qps: answers.length / ((performance.now() - started) / 1000) };
}

function sameAnswers(a: HashMatch[][], b: HashMatch[][]): boolean {
  const count = Math.min(a.length, b.length);
  for (let q = 0; q < count; q++) {
    const x = a[q]!, y = b[q]!;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i]!.entryId !== y[i]!.entryId || x[i]!.distance !== y[i]!.distance) return false;
  }
  return true;
}

/**
 * Milliseconds to add `count` entries (ids from `firstId`) of `hashFor`'s hashes, get them into the
 * index's tables (`settle`: MIH queries move pending adds into the tables' overflow, 4,096 a query),
 * and remove them again: the same work per change whether they share one hash or not.
 */
function changeCost(index: HashIndex, firstId: number, count: number, hashFor: (i: number) => Uint8Array, settle: () => void): { add: number; remove: number } {
  let started = performance.now();
  for (let i = 0; i < count; i++) index.add(firstId + i, hashFor(i));
  settle();
  const add = performance.now() - started;
  started = performance.now();
  for (let i = 0; i < count; i++) index.remove(firstId + i);
  return { add, remove: performance.now() - started };
}

function reportCopies(name: string, copies: number, index: HashIndex, firstId: number, settle: () => void): void {
  const distinct = changeCost(index, firstId, copies, (i) => hashOf(0x20000000 + i), settle);
  const shared = hashOf(0x30000000);
  const same = changeCost(index, firstId, copies, () => shared, settle);
  const ms = (value: number) => `${value.toFixed(0)} ms`;
  console.log(
    `${name} changes: ${copies} copies of one hash added ${ms(same.add)}, removed ${ms(same.remove)}; ` +
      `${copies} distinct hashes added ${ms(distinct.add)}, removed ${ms(distinct.remove)}`,
  );
}

function report(name: string, built: Built<HashIndex>, size: number): void {
  console.log(
    `${name}: build ${built.seconds.toFixed(2)} s, memory ${(built.heapDelta / size).toFixed(1)} B/entry (heap+buffers), ` +
      `${(built.rssDelta / size).toFixed(1)} B/entry (RSS delta), RSS now ${mb(process.memoryUsage().rss)}`,
  );
}

const HUGETLB = 'glibc.malloc.hugetlb=1';

/** Runs this bench again in a child process with or without glibc's huge-page tunable; true if it passed. */
function rerun(args: string[], hugePages: boolean): boolean {
  const tunables = (process.env['GLIBC_TUNABLES'] ?? '').split(':').filter((t) => t && !t.startsWith('glibc.malloc.hugetlb='));
  if (hugePages) tunables.push(HUGETLB);
  else tunables.push('glibc.malloc.hugetlb=0'); // marks the child as decided: it must not re-run again
  const env = { ...process.env, GLIBC_TUNABLES: tunables.join(':'), ABUSE_SCAN_BENCH_CHILD: '1' };
  // The child also gets --expose-gc, so that its memory figures leave out the build's garbage.
  const execArgv = process.execArgv.includes('--expose-gc') ? process.execArgv : ['--expose-gc', ...process.execArgv];
  const child = spawnSync(process.execPath, [...execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  return child.status === 0;
}

export async function main(args: string[]): Promise<void> {
  const options = parseArgs(args);
  const { size, radius } = options;
  const tunable = /glibc\.malloc\.hugetlb=(\d)/.exec(process.env['GLIBC_TUNABLES'] ?? '')?.[1];
  if (tunable === undefined && process.platform === 'linux') {
    const runs = options.hugePages === 'both' ? [true, false] : [options.hugePages === 'on'];
    let passed = true;
    for (const hugePages of runs) {
      console.log(
        hugePages
          ? `index bench: re-running itself with GLIBC_TUNABLES=${HUGETLB} (transparent huge pages for the index's arrays, the deployment setting${runs.length === 1 ? '; --huge-pages off or both to measure without' : ''})`
          : 'index bench: re-running itself without huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=0)',
      );
      passed = rerun(args, hugePages) && passed;
    }
    if (!passed) process.exitCode = 1;
    return;
  }
  if (tunable !== undefined && args.includes('--huge-pages') && process.env['ABUSE_SCAN_BENCH_CHILD'] !== '1') {
    console.log(`index bench: GLIBC_TUNABLES already sets glibc.malloc.hugetlb=${tunable}; --huge-pages is ignored`);
  }
  const gcNote = (globalThis as { gc?: () => void }).gc ? 'gc exposed' : 'no --expose-gc: memory deltas are noisy';
  const hugePages = tunable !== undefined && tunable !== '0' ? `on (GLIBC_TUNABLES ${HUGETLB})` : 'off';
  console.log(`index bench: ${size} random ${BITS}-bit hashes, ${options.queries} queries (half near copies, half misses), radius ${radius}; ${gcNote}; huge pages ${hugePages}`);
  const queries = makeQueries(options, size, 12345);

  // MIH first, alone in the heap, so its RSS is the figure that matters for the 2 GB budget.
  const mihOptions = {
    designRadius: radius,
    expectedSize: size,
    substringCount: options.substrings,
    substringWidths: options.widths,
    inlineWords: options.inlineWords,
  };
  const mih = build(() => new MihIndex(BITS, mihOptions), size, (index) => index.compact());
  const inlined = mih.index.inlineWordCounts.filter((words) => words > 0).length;
  report(`mih (${mih.index.substringWidths.length} substrings: ${mih.index.substringWidths.join(',')} bits; hash words inlined in ${inlined} tables' lists)`, mih, size);
  let candidates = 0;
  for (const query of queries) {
    mih.index.query(query, radius); // warm-up pass (JIT, caches), also counts candidates
    candidates += mih.index.lastQueryCandidates;
  }
  const mihRun = run(mih.index, queries, radius);
  const hits = mihRun.answers.filter((answer) => answer.length > 0).length;
  console.log(
    `mih: ${mihRun.qps.toFixed(0)} queries/s (${(1e6 / mihRun.qps).toFixed(0)} us/query, ${(candidates / queries.length).toFixed(0)} candidates verified per query, ` +
      `${hits}/${queries.length} queries matched), RSS ${mb(process.memoryUsage().rss)}, peak RSS ${mb(process.resourceUsage().maxRSS * 1024)}`,
  );
  const mihAnswers = mihRun.answers;
  if (options.copies > 0) {
    const settle = () => {
      for (let q = 0; q <= options.copies / 4096; q++) mih.index.query(queries[q % queries.length]!, radius);
    };
    reportCopies('mih', options.copies, mih.index, size, settle);
  }
  (mih as { index: unknown }).index = null;

  const linear = build(() => new LinearIndex(BITS, size), size);
  report('linear', linear, size);
  run(linear.index, queries.slice(0, 5), radius);
  const linearRun = run(linear.index, queries, radius, LINEAR_TIME_BUDGET_MS);
  const compared = linearRun.answers.length;
  console.log(`linear: ${linearRun.qps.toFixed(1)} queries/s (${(1000 / linearRun.qps).toFixed(2)} ms/query, over ${compared} queries)`);
  console.log(`mih speed-up over linear: ${(mihRun.qps / linearRun.qps).toFixed(1)}x`);
  let identical = sameAnswers(mihAnswers, linearRun.answers);
  (linear as { index: unknown }).index = null;

  // BK-tree at 256 bits / r = 31 visits nearly every node: run it on a subset, against a linear scan of the same subset.
  const bkSize = options.bkSize;
  const bkQueries = makeQueries({ ...options, queries: Math.min(options.queries, 400) }, bkSize, 777);
  const bk = build(() => new BkTreeIndex(BITS, bkSize), bkSize);
  const subset = build(() => new LinearIndex(BITS, bkSize), bkSize);
  report(`bk-tree (subset of ${bkSize}${bkSize < size ? ', the full set is hopeless' : ''})`, bk, bkSize);
  let visits = 0;
  const bkAnswers: HashMatch[][] = [];
  const started = performance.now();
  for (const query of bkQueries) {
    bkAnswers.push(bk.index.query(query, radius));
    visits += bk.index.lastQueryVisits;
  }
  const bkQps = bkQueries.length / ((performance.now() - started) / 1000);
  const subsetRun = run(subset.index, bkQueries, radius);
  console.log(
    `bk-tree: ${bkQps.toFixed(1)} queries/s on ${bkSize} entries, visits ${((100 * visits) / bkQueries.length / bk.index.nodes).toFixed(1)}% of nodes per query; ` +
      `linear on the same subset: ${subsetRun.qps.toFixed(1)} queries/s; bk-tree speed-up ${(bkQps / subsetRun.qps).toFixed(2)}x`,
  );
  identical &&= sameAnswers(bkAnswers, subsetRun.answers) && bkAnswers.length === subsetRun.answers.length;
  if (options.copies > 0) reportCopies('bk-tree', options.copies, bk.index, bkSize, () => {});

  console.log(`identical: ${identical ? 'yes' : 'NO'} (mih vs linear over ${compared} queries, bk-tree vs linear over ${bkQueries.length})`);
  if (!identical) process.exitCode = 1;
}
