/**
 * `npm run bench hashsets [--size N] [--keep]` (default 1M; `--size 10000000` for 10M).
 *
 * 1. Import: writes an N-line hash CSV (hash,label,id; random 256-bit hashes regenerated from the
 *    line number), then runs `abuse-scan hashset import` on it as a child process: wall time, lines/s
 *    and the child's peak RSS (VmHWM). Baseline: the same child only validating the file
 *    (`--max-bad 0` on a copy with one bad line at the end, so it stops before writing).
 * 2. Cold load: a worker's replica of the N-entry set from Redis (packs + index), time and RSS
 *    growth, extrapolated linearly to 10M. Baseline: the same index built from hashes in memory.
 * 3. Add-to-match: with a replica running (pub/sub), the time from `add` resolving to the replica
 *    matching the new entry, over 50 adds (target < 1 s).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, appendFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { EntryIndex } from '../src/hashsets/entry-index.js';
import { HashSetReplicas } from '../src/hashsets/hash-set-replicas.js';
import { HashSetStore } from '../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../src/hashsets/replicated-hash-set.js';
import { hashToHex } from '../src/matching/hash-bits.js';
import { createLogger } from '../src/runtime/logger.js';
import { syntheticHash } from './synthetic-hashes.js';
import { deletePrefix } from '../test/harness/redis.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BYTES = 32;
const hashOf = (id: number, into?: Uint8Array) => syntheticHash(id, BYTES, into);


async function writeCsv(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('hash,label,id\n');
  const hash = new Uint8Array(BYTES);
  let chunk = '';
  for (let i = 0; i < size; i++) {
    chunk += `${hashToHex(hashOf(i, hash))},bench-${i % 97},e${i}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      chunk = '';
    }
  }
  out.write(chunk);
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

/** Runs the CLI; resolves with wall ms, exit code and peak RSS (MiB) read from /proc while it runs. */
function runCli(prefix: string, args: string[]): Promise<{ ms: number; code: number | null; peakMiB: number; output: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, REDIS_URL, ABUSE_SCAN_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let peakKiB = 0;
  let output = '';
  const poll = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
    } catch {
      // exited between polls
    }
  }, 50);
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ ms: performance.now() - started, code, peakMiB: peakKiB / 1024, output: output.trim() });
    }),
  );
}

function rssMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export async function main(args: string[]): Promise<void> {
  const at = args.indexOf('--size');
  const size = at >= 0 ? Number(args[at + 1]) : 1_000_000;
  if (!Number.isInteger(size) || size < 1) throw new Error('--size needs a positive integer');
  const prefix = `{abuse-scan-bench-hashsets-${process.pid}}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const store = new HashSetStore(redis, { prefix });
  const dir = mkdtempSync(join(tmpdir(), 'hashsets-bench-'));
  try {
    console.log(`hash sets bench: ${fmt(size)} entries, PDQ threshold 31 (node ${process.version}, ${process.platform})`);

    // 1. Import through the CLI.
    const csv = join(dir, 'hashes.csv');
    let t = performance.now();
    await writeCsv(csv, size);
    console.log(`\nwrote ${csv} in ${fmt((performance.now() - t) / 1000, 1)} s`);
    const invalid = join(dir, 'invalid.csv');
    copyFileSync(csv, invalid);
    appendFileSync(invalid, 'not-a-hash,x,bad\n');
    await store.create({ name: 'bench', algorithm: 'pdq' });
    const validateOnly = await runCli(prefix, ['hashset', 'import', 'bench', invalid, '--max-bad', '0']);
    const imported = await runCli(prefix, ['hashset', 'import', 'bench', csv]);
    if (imported.code !== 0) throw new Error(`import failed:\n${imported.output}`);
    const reimport = await runCli(prefix, ['hashset', 'import', 'bench', csv]);
    console.log('\nimport (abuse-scan hashset import, child process)');
    console.log(`  validate only (baseline)  ${fmt(validateOnly.ms / 1000, 1)} s  peak RSS ${fmt(validateOnly.peakMiB)} MiB`);
    console.log(`  import                    ${fmt(imported.ms / 1000, 1)} s  ${fmt(size / (imported.ms / 1000))} lines/s  peak RSS ${fmt(imported.peakMiB)} MiB  (${fmt(imported.ms / validateOnly.ms, 1)}x validate)`);
    console.log(`  re-import (no-op)         ${fmt(reimport.ms / 1000, 1)} s  version stays ${(await store.summary('bench')).version}`);
    const redisMemory = /used_memory:(\d+)/.exec(await redis.info('memory'))![1]!;
    console.log(`  Redis used_memory after import: ${fmt(Number(redisMemory) / 2 ** 20)} MiB (all data on this server)`);

    // 2. Cold load into a worker's replica.
    const before = rssMiB();
    t = performance.now();
    const { set, stats } = await ReplicatedHashSet.load(store, 'bench');
    const loadMs = performance.now() - t;
    const loadedRss = rssMiB() - before;
    const probe = set.match([hashOf(size >> 1)]);
    if (probe[0]?.distance !== 0) throw new Error('loaded set does not find a stored hash');
    const baseline = new EntryIndex(256, 31, size);
    t = performance.now();
    const scratch = new Uint8Array(BYTES);
    for (let i = 0; i < size; i++) baseline.add(i, hashOf(i, scratch));
    baseline.query([hashOf(0)]); // MIH indexes lazily: the first query builds the tables
    const buildMs = performance.now() - t;
    t = performance.now();
    set.match([hashOf(1)]);
    const firstQueryMs = performance.now() - t;
    console.log('\ncold load (GET of the packs -> replica index, tables built)');
    console.log(`  index from memory (baseline)  ${fmt(buildMs / 1000, 2)} s`);
    console.log(`  load from Redis               ${fmt(loadMs / 1000, 2)} s  ${fmt(stats.entries / (loadMs / 1000))} entries/s  (${fmt(loadMs / buildMs, 1)}x baseline)  + first query ${fmt(firstQueryMs)} ms`);
    console.log(`  RSS growth                    ${fmt(loadedRss)} MiB  (${fmt((loadedRss * 2 ** 20) / size)} bytes/entry)`);
    console.log(`  extrapolated to 10M           ~${fmt(((loadMs + firstQueryMs) / 1000) * (10_000_000 / size), 0)} s, ~${fmt((loadedRss * 10_000_000) / size / 1024, 1)} GiB`);

    // 3. Add-to-match latency with a running replica.
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs: 60_000 });
    await replicas.start();
    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const hash = hashOf(0x60000000 + i);
      await store.add('bench', [{ id: `late-${i}`, hash }]);
      const added = performance.now();
      while (!replicas.get('bench')?.match([hash]).length) await new Promise((resolve) => setImmediate(resolve));
      latencies.push(performance.now() - added);
    }
    await replicas.close();
    latencies.sort((a, b) => a - b);
    console.log('\nadd -> match (pub/sub + changelog, replica of the full set)');
    console.log(`  p50 ${fmt(latencies[25]!, 1)} ms  p99 ${fmt(latencies[49]!, 1)} ms  max ${fmt(latencies.at(-1)!, 1)} ms  (target < 1000 ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (!args.includes('--keep')) await deletePrefix(redis, prefix);
    await redis.quit();
  }
}
