import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { ScanError } from '../../src/errors.js';
import { MemoryFloodGuard } from '../../src/hashsets/flood-guard.js';
import { resolveHashSetConfig } from '../../src/hashsets/hash-set-config.js';
import { HashSetMetrics } from '../../src/hashsets/hash-set-metrics.js';
import { HashSet } from '../../src/hashsets/hash-set.js';
import type { ImageHashes } from '../../src/images/index.js';
import { FleetMetrics } from '../../src/ops/metrics.js';
import type { ImageSubject } from '../../src/pipeline/image-preparer.js';
import type { ItemPreparer } from '../../src/pipeline/item-preparer.js';
import { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { SignalRegistry } from '../../src/signals/registry.js';
import { HashSetMatchSignalType } from '../../src/signals/hashset-match/index.js';
import type { SignalType } from '../../src/signals/signal-type.js';
import { ScanWorker } from '../../src/worker/scan-worker.js';
import { seededHash, subjectOfFrames } from '../harness/hashes.js';
import { removeTestKeys, TEST_REDIS_URL, testRedis, uniquePrefix } from '../harness/redis.js';

/** The value of one series of the registry, undefined when it is not exported. */
async function sample(metrics: FleetMetrics, series: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('abuse_scan_hashset_matches_total on a worker', () => {
  const prefix = uniquePrefix('hashset-matches-per-verdict');
  afterAll(() => removeTestKeys(prefix));

  it('counts the matches of the stored verdict once, however many attempts matched the image', async () => {
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, queues: 'images', lockDurationMs: 5000, stalledIntervalMs: 2000 });
    const metrics = new FleetMetrics({ prefix });
    // The pipeline as create-pipeline builds it, the image decoding aside: every image hashes to a
    // known-bad entry, and a second signal type (a model whose host is away) fails transiently
    // until the last attempt, after the hash-set match of each attempt.
    const pdq = seededHash(7);
    const frame: ImageHashes = { pdq, dihedral: [pdq, ...Array.from({ length: 7 }, (_, i) => seededHash(100 + i))], blockhash: seededHash(9), pdqQuality: 100 };
    const images: ItemPreparer<ImageSubject> = {
      kind: 'image',
      prepare: async () => ({ subject: subjectOfFrames([frame]), details: {} }),
    };
    const bad = new HashSet(resolveHashSetConfig({ name: 'known-bad', algorithm: 'pdq' }));
    bad.add({ id: 'entry-1', hash: pdq });
    const hashSetMetrics = new HashSetMetrics(metrics.registry);
    const hashSets = new HashSetMatchSignalType({ source: { sets: () => [bad] }, floodGuard: new MemoryFloodGuard(hashSetMetrics) });
    let modelRuns = 0;
    const flakyModel: SignalType<ImageSubject> = {
      name: 'flaky-model',
      accepts: 'image',
      match: async () => {
        modelRuns++;
        throw new ScanError('fetch_timeout', 'the model host did not answer in time');
      },
      versions: () => ({}),
    };
    const registry = new SignalRegistry();
    registry.register(hashSets);
    registry.register(flakyModel);
    const pipeline = new ScanPipeline({ preparers: [images], registry, policy: config.policy });

    const connection = testRedis();
    const worker = new ScanWorker({ config, pipeline, connection, logger: createLogger('silent'), metrics });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 3, backoffMs: 50 });
    try {
      await worker.run();
      const { jobId } = await client.enqueue({ contentId: 'matched-thrice', surface: 'upload', items: [{ bytesBase64: 'AAAA' }] });
      const verdict = await client.waitForVerdict(jobId, { timeoutMs: 8000 });
      expect(verdict.attempt).toBe(3);
      expect(modelRuns).toBe(3); // three attempts, each matched the image against the set
      expect(verdict.signals).toEqual([expect.objectContaining({ source: 'hashset', suggests: 'block', evidence: expect.objectContaining({ set: 'known-bad', entryId: 'entry-1' }) })]);
      const series = `abuse_scan_hashset_matches_total{set="known-bad",suggests="block",prefix="${prefix}"}`;
      expect(await sample(metrics, series)).toBe(1);
      expect(await sample(metrics, `abuse_scan_verdicts_total{queue="images",decision="${verdict.decision}",prefix="${prefix}"}`)).toBe(1);

      // A rescan (forced job id) is another verdict: counted again.
      const again = await client.enqueue({ contentId: 'matched-thrice', surface: 'upload', items: [{ bytesBase64: 'AAAA' }] }, { jobId: 'rescan-1' });
      await client.waitForVerdict(again.jobId, { timeoutMs: 8000 });
      expect(await sample(metrics, series)).toBe(2);
    } finally {
      await client.close();
      await worker.shutdown();
      await connection.quit();
    }
  }, 20_000);
});
