/**
 * `npm run bench:queue [-- --jobs N --concurrency C[,C...] --rounds R --rate R --seconds S]`
 *
 * Throughput: N trivial scan jobs through the fleet as built (worker -> pipeline -> verdict stored) beside
 * a plain BullMQ worker with a no-op processor on N no-op jobs, same Redis, same concurrency, same
 * process, alternating runs. Target: fleet >= 0.7x the no-op throughput. Several concurrencies
 * (`--concurrency 8,16,32,64,128`) are measured one after the other and summed up in a table.
 * Latency: enqueue-to-verdict p50/p99 at a fixed offered load of R jobs/s for S seconds (at the
 * first concurrency given).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { createScanClient } from '../src/client/scan-client.js';
import { verdictKeys } from '../src/verdicts/verdict-keys.js';
import { createRedis, type RedisClient } from '../src/runtime/redis.js';
import { deletePrefix, uniquePrefix } from '../test/harness/redis.js';

/**
 * The fleet as it ships: the tsc build that `abuse-scan worker` runs, built afresh here, beside
 * BullMQ's own compiled code. This file's imports go through tsx, which names every function it
 * creates (esbuild's keepNames), a per-closure cost production code does not pay.
 */
async function loadBuiltFleet() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: new URL('..', import.meta.url), stdio: 'inherit' });
  const built = <T>(module: string) => import(new URL(`../dist/src/${module}.js`, import.meta.url).href) as Promise<T>;
  const [{ loadConfig }, { FleetMetrics }, { createScanPipeline }, { createLogger }, { ScanWorker }, redis] = await Promise.all([
    built<typeof import('../src/config/config.js')>('config/config'),
    built<typeof import('../src/ops/metrics.js')>('ops/metrics'),
    built<typeof import('../src/pipeline/create-pipeline.js')>('pipeline/create-pipeline'),
    built<typeof import('../src/runtime/logger.js')>('runtime/logger'),
    built<typeof import('../src/worker/scan-worker.js')>('worker/scan-worker'),
    built<typeof import('../src/runtime/redis.js')>('runtime/redis'),
  ]);
  return { loadConfig, FleetMetrics, createScanPipeline, createLogger, ScanWorker, createRedis: redis.createRedis };
}
let builtFleet: Awaited<ReturnType<typeof loadBuiltFleet>> | undefined;

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A job whose scanning is trivial: one link, matched but not unfurled (unfurling is off here). */
function trivialJob(i: number) {
  return { contentId: `bench-${i}`, surface: 'bench', items: [`https://bench.example/item/${i}`] };
}

/** CPU this process spent per job while draining the queue, in µs: a figure load elsewhere hardly moves. */
const cpuPerJob = { noop: [] as number[], fleet: [] as number[] };
/** CPU the Redis server spent per job in the same window, in µs: what a shared Redis must budget. */
const redisCpuPerJob = { noop: [] as number[], fleet: [] as number[] };
function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/** The Redis server's own CPU seconds (user + system) so far, from INFO cpu. */
async function redisCpuSeconds(redis: RedisClient): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function waitForCount(count: () => Promise<number>, target: number): Promise<void> {
  while ((await count()) < target) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function noopThroughput(jobs: number, concurrency: number): Promise<number> {
  const prefix = uniquePrefix('bench-noop');
  const connection = createRedis(REDIS_URL);
  const queue = new Queue('noop', { connection, prefix });
  for (let i = 0; i < jobs; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ name: 'noop', data: trivialJob(i + k), opts: { removeOnComplete: { age: 600 } } })));
  }
  let done = 0;
  const redisCpu = await redisCpuSeconds(connection);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const worker = new Worker('noop', async () => undefined, { connection, prefix, concurrency });
  worker.on('completed', () => done++);
  await waitForCount(async () => done, jobs);
  const seconds = (performance.now() - started) / 1000;
  cpuPerJob.noop.push(cpuMicros(cpu) / jobs);
  redisCpuPerJob.noop.push(((await redisCpuSeconds(connection)) - redisCpu) * 1e6 / jobs);
  await worker.close();
  await queue.close();
  await deletePrefix(connection, prefix);
  await connection.quit();
  return jobs / seconds;
}

async function startFleet(prefix: string, concurrency: number) {
  const { loadConfig, FleetMetrics, createScanPipeline, createLogger, ScanWorker, createRedis } = (builtFleet ??= await loadBuiltFleet());
  const config = loadConfig({ ABUSE_SCAN_UNFURL: 'off' }, { redisUrl: REDIS_URL, prefix, concurrency });
  const logger = createLogger('silent');
  const connection = createRedis(REDIS_URL);
  const pipeline = await createScanPipeline(config, { logger, connection });
  const worker = new ScanWorker({ config, pipeline, connection, logger, metrics: new FleetMetrics() });
  return {
    start: () => worker.run(),
    async stop() {
      await worker.shutdown();
      await pipeline.close();
      await connection.quit();
    },
  };
}

async function fleetThroughput(jobs: number, concurrency: number): Promise<number> {
  const prefix = uniquePrefix('bench-fleet');
  const client = createScanClient({ connection: REDIS_URL, prefix });
  for (let i = 0; i < jobs; i += 1000) {
    await client.enqueueBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ job: trivialJob(i + k) })));
  }
  const counter = createRedis(REDIS_URL);
  const stream = verdictKeys(prefix).stream;
  const fleet = await startFleet(prefix, concurrency);
  const redisCpu = await redisCpuSeconds(counter);
  const started = performance.now();
  const cpu = process.cpuUsage();
  await fleet.start();
  await waitForCount(() => counter.xlen(stream), jobs);
  const seconds = (performance.now() - started) / 1000;
  cpuPerJob.fleet.push(cpuMicros(cpu) / jobs);
  redisCpuPerJob.fleet.push(((await redisCpuSeconds(counter)) - redisCpu) * 1e6 / jobs);
  await fleet.stop();
  await client.close();
  await deletePrefix(counter, prefix);
  await counter.quit();
  return jobs / seconds;
}

async function latencyAtLoad(rate: number, seconds: number, concurrency: number) {
  const prefix = uniquePrefix('bench-latency');
  const client = createScanClient({ connection: REDIS_URL, prefix });
  const fleet = await startFleet(prefix, concurrency);
  await fleet.start();
  const total = Math.round(rate * seconds);
  const enqueuedAt = new Map<string, number>();
  const started = Date.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { jobId } = await client.enqueue(trivialJob(i));
    enqueuedAt.set(jobId, Date.now());
  }
  const counter = createRedis(REDIS_URL);
  const stream = verdictKeys(prefix).stream;
  await waitForCount(() => counter.xlen(stream), total);
  // A stream entry id starts with the Redis server's ms clock when it was stored (same machine).
  const entries = await counter.xrange(stream, '-', '+');
  const latencies = entries
    .map(([id, fields]) => Number(id.split('-')[0]) - enqueuedAt.get(fields[fields.indexOf('jobId') + 1]!)!)
    .sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  await fleet.stop();
  await client.close();
  await deletePrefix(counter, prefix);
  await counter.quit();
  return { count: latencies.length, p50: at(0.5), p99: at(0.99), max: latencies.at(-1)! };
}

interface ConcurrencyResult {
  concurrency: number;
  noop: number;
  fleet: number;
  ratio: number;
  noopCpu: number;
  fleetCpu: number;
  noopRedis: number;
  fleetRedis: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Paired rounds at one concurrency, printed as they finish. */
async function measureAt(jobs: number, concurrency: number, rounds: number): Promise<ConcurrencyResult> {
  console.log(`concurrency ${concurrency}:`);
  // Paired rounds: each ratio compares two runs made back to back, so load that drifts during
  // the benchmark (other processes on the machine) moves both sides of a ratio alike.
  const noop: number[] = [];
  const fleet: number[] = [];
  const ratios: number[] = [];
  cpuPerJob.noop.length = cpuPerJob.fleet.length = redisCpuPerJob.noop.length = redisCpuPerJob.fleet.length = 0;
  for (let round = 1; round <= rounds; round++) {
    noop.push(await noopThroughput(jobs, concurrency));
    fleet.push(await fleetThroughput(jobs, concurrency));
    ratios.push(fleet.at(-1)! / noop.at(-1)!);
    console.log(`  round ${round}: no-op BullMQ ${noop.at(-1)!.toFixed(0)} jobs/s, fleet ${fleet.at(-1)!.toFixed(0)} verdicts/s, ratio ${ratios.at(-1)!.toFixed(2)}`);
  }
  const result: ConcurrencyResult = {
    concurrency,
    noop: median(noop),
    fleet: median(fleet),
    ratio: median(ratios),
    noopCpu: median(cpuPerJob.noop),
    fleetCpu: median(cpuPerJob.fleet),
    noopRedis: median(redisCpuPerJob.noop),
    fleetRedis: median(redisCpuPerJob.fleet),
  };
  console.log(
    `  throughput (medians): no-op ${result.noop.toFixed(0)} jobs/s, fleet ${result.fleet.toFixed(0)} verdicts/s; ` +
      `median paired ratio ${result.ratio.toFixed(2)} (target >= 0.70: ${result.ratio >= 0.7 ? 'met' : 'NOT met'})`,
  );
  console.log(`  worker-process CPU per job (median): no-op ${result.noopCpu.toFixed(1)} µs, fleet ${result.fleetCpu.toFixed(1)} µs (ratio ${(result.noopCpu / result.fleetCpu).toFixed(2)})`);
  console.log(
    `  Redis server CPU per job (median, whole server): no-op ${result.noopRedis.toFixed(1)} µs, fleet ${result.fleetRedis.toFixed(1)} µs (ratio ${(result.noopRedis / result.fleetRedis).toFixed(2)})`,
  );
  return result;
}

function printTable(results: ConcurrencyResult[]): void {
  const rows: Array<[string, (r: ConcurrencyResult) => string]> = [
    ['no-op jobs/s', (r) => r.noop.toFixed(0)],
    ['fleet verdicts/s', (r) => r.fleet.toFixed(0)],
    ['median paired ratio', (r) => r.ratio.toFixed(2)],
    ['no-op worker CPU µs/job', (r) => r.noopCpu.toFixed(1)],
    ['fleet worker CPU µs/job', (r) => r.fleetCpu.toFixed(1)],
    ['no-op Redis CPU µs/job', (r) => r.noopRedis.toFixed(1)],
    ['fleet Redis CPU µs/job', (r) => r.fleetRedis.toFixed(1)],
  ];
  const label = Math.max('concurrency'.length, ...rows.map(([name]) => name.length));
  const cells = results.map((r) => Math.max(String(r.concurrency).length, ...rows.map(([, cell]) => cell(r).length)));
  const line = (name: string, values: string[]) => `  ${name.padEnd(label)}  ${values.map((v, i) => v.padStart(cells[i]!)).join('  ')}`;
  console.log(line('concurrency', results.map((r) => String(r.concurrency))));
  for (const [name, cell] of rows) console.log(line(name, results.map(cell)));
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      jobs: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '32' },
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const jobs = Number(values.jobs);
  const concurrencies = values.concurrency.split(',').map(Number);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(jobs) || jobs < 1 || !Number.isInteger(rounds) || rounds < 1 || concurrencies.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error('--jobs, --rounds and each --concurrency must be positive integers');
  }
  console.log(`queue bench: ${jobs} trivial jobs, concurrency ${concurrencies.join(', ')}, ${rounds} alternating rounds each, Redis ${REDIS_URL}`);
  await noopThroughput(Math.min(jobs, 1000), concurrencies[0]!); // warm-up
  await fleetThroughput(Math.min(jobs, 1000), concurrencies[0]!);
  const results: ConcurrencyResult[] = [];
  for (const concurrency of concurrencies) results.push(await measureAt(jobs, concurrency, rounds));
  if (results.length > 1) {
    console.log('summary (medians of paired rounds):');
    printTable(results);
  }

  const rate = Number(values.rate);
  const latency = await latencyAtLoad(rate, Number(values.seconds), concurrencies[0]!);
  console.log(
    `latency at ${rate} jobs/s offered for ${values.seconds} s (${latency.count} jobs, concurrency ${concurrencies[0]}): ` +
      `enqueue-to-verdict p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms`,
  );
}
