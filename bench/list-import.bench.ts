/**
 * `npm run bench list-import [lines]` (default 500000): the peak memory and time of importing a
 * URL feed of that many lines into a new list, as `blocklist import` does (spoolListFile: read once
 * into a temporary file of canonical entries, imported batch by batch), against the baseline of
 * holding every parsed entry (ListFileParser, then ListStore.import of the array), as it did
 * before. Each runs in a child process of its own (its peak RSS is its own); the same Redis
 * (REDIS_URL), under a prefix of its own, deleted afterwards.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { ListFileParser, spoolListFile } from '../src/lists/list-import.js';
import { ListStore } from '../src/lists/list-store.js';
import { createRedis } from '../src/runtime/redis.js';
import { deletePrefix, uniquePrefix } from '../test/harness/redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
type Mode = 'held' | 'spooled';

export async function main(args: string[]): Promise<void> {
  const lines = Number(args[0] ?? 500_000);
  const dir = await mkdtemp(join(tmpdir(), 'abuse-scan-bench-list-'));
  const prefix = uniquePrefix('bench-list-import');
  const redis = createRedis(REDIS_URL);
  try {
    const file = join(dir, 'feed.txt');
    await writeFeed(file, lines);
    const results: Record<Mode, { seconds: number; maxRssMb: number }> = {} as never;
    for (const mode of ['held', 'spooled'] as const) results[mode] = await child(mode, file, prefix, `list-${mode}`);
    console.log(`list import of ${lines.toLocaleString('en')} URL lines into a new list:`);
    for (const mode of ['held', 'spooled'] as const) console.log(`  ${mode.padEnd(8)} ${results[mode].seconds.toFixed(2)} s, peak RSS ${results[mode].maxRssMb.toFixed(0)} MB`);
    console.log(`  spooled/held: peak RSS ${(results.spooled.maxRssMb / results.held.maxRssMb).toFixed(2)}x, time ${(results.spooled.seconds / results.held.seconds).toFixed(2)}x`);
  } finally {
    await deletePrefix(redis, prefix);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Lines like the feeds measured for README: http://host{i}.example{i%97}.com/path/{i}/x?q={i}. */
async function writeFeed(file: string, lines: number): Promise<void> {
  const out = createWriteStream(file);
  let text = '';
  for (let i = 0; i < lines; i++) {
    text += `http://host${i}.example${i % 97}.com/path/${i}/x?q=${i}\n`;
    if (text.length > 1 << 16) {
      if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      text = '';
    }
  }
  await new Promise<void>((resolve, reject) => out.end(text, (error?: Error | null) => (error ? reject(error) : resolve())));
}

function child(mode: Mode, file: string, prefix: string, list: string): Promise<{ seconds: number; maxRssMb: number }> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode, file, prefix, list], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    process_.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    process_.on('error', reject);
    process_.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { seconds: number; maxRssMb: number }) : reject(new Error(`${mode} import exited ${code}`))));
  });
}

async function runChild(mode: Mode, file: string, prefix: string, list: string): Promise<void> {
  const redis = createRedis(REDIS_URL);
  const store = new ListStore(redis, { prefix });
  const started = performance.now();
  if (mode === 'held') {
    const parser = new ListFileParser('txt');
    const decoder = new StringDecoder('utf8');
    for await (const chunk of createReadStream(file)) parser.push(decoder.write(chunk as Buffer));
    parser.push(decoder.end());
    await store.import(list, parser.end().entries);
  } else {
    const spooled = await spoolListFile(createReadStream(file), 'txt');
    try {
      await store.import(list, spooled);
    } finally {
      await spooled.close();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await redis.quit();
  process.stdout.write(JSON.stringify({ seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

if (process.argv[2] === '--child') await runChild(process.argv[3] as Mode, process.argv[4]!, process.argv[5]!, process.argv[6]!);
