/**
 * The flood guard counts images, not contents: reposts of one known-bad image under any number of
 * contentIds (and tenants) are one item, so they never quarantine its entry (which would turn their
 * block into a review: an attack on the set as much as a false alarm), while an entry matching many
 * different images still floods. Real Redis: the store, a replica of the set and the guard workers run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { RedisFloodGuard } from '../../src/hashsets/flood-guard.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import type { ImageHashes } from '../../src/images/index.js';
import type { ImageSubject } from '../../src/pipeline/image-preparer.js';
import { HashSetMatchSignalType } from '../../src/signals/hashset-match/index.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { FIXTURE_IMAGES, fixtureHashes, seededHash as hash, subjectOfFrames } from '../harness/hashes.js';
import { suiteRedis, TEST_REDIS_URL } from '../harness/redis.js';

function flipRange(bytes: Uint8Array, from: number, count: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  for (let bit = from; bit < from + count; bit++) copy[bit >> 3]! ^= 0x80 >> (bit & 7);
  return copy;
}

function frameOf(pdq: Uint8Array): ImageHashes {
  return { pdq, dihedral: [pdq, ...Array.from({ length: 7 }, (_, i) => hash(90_000 + i))], blockhash: hash(5), pdqQuality: 100 };
}

function imageOf(...pdqs: Uint8Array[]): ImageSubject {
  return subjectOfFrames(pdqs.map(frameOf));
}

describe('flood guard: reposts of one image are one item (Redis)', () => {
  const { prefix, redis } = suiteRedis('hashset-flood-reposts');
  const store = new HashSetStore(redis, { prefix });

  it('many contents carrying the identical image never quarantine its entry; many different images matching it do', async () => {
    const viral = hash(12_000);
    await store.create({ name: 'viral', algorithm: 'pdq', flood: { maxItems: 3, windowSeconds: 3600 } });
    await store.add('viral', [{ id: 'viral-12', hash: viral, label: 'known bad' }]);
    const { set } = await ReplicatedHashSet.load(store, 'viral');
    const type = new HashSetMatchSignalType({ source: { sets: () => [set] }, floodGuard: new RedisFloodGuard(redis, prefix) });
    const scan = async (image: ImageSubject, contentId: string, tenant?: string) =>
      (await type.match(image, 0, { jobId: `job-${contentId}`, contentId, surface: 'upload', ...(tenant !== undefined && { tenant }) }))[0]!;

    // Reposts: 20 contents of two tenants, each the identical image.
    for (let i = 0; i < 20; i++) {
      const signal = await scan(imageOf(viral), `repost-${i}`, i % 2 === 0 ? 'acme' : 'globex');
      expect(signal).toMatchObject({ suggests: 'block', evidence: { entryId: 'viral-12', distance: 0 } });
      expect(signal.evidence).not.toHaveProperty('quarantined');
    }
    // The same image as one frame of animations whose other frame differs each time: the item is
    // the frame that matched, so still the same one.
    for (let i = 0; i < 5; i++) expect(await scan(imageOf(hash(50_000 + i), viral), `animated-${i}`)).toMatchObject({ suggests: 'block', evidence: { frame: 1 } });
    expect(await store.quarantined('viral')).toEqual([]);
    expect((await store.summary('viral')).matches).toBe(25);

    // Different images within reach of the entry: the image above and two more are 3 items (maxItems),
    // a third different one quarantines it.
    const near = (k: number) => imageOf(flipRange(viral, 16 * k, 4));
    expect(await scan(near(1), 'near-1')).toMatchObject({ suggests: 'block', evidence: { entryId: 'viral-12', distance: 4 } });
    expect(await scan(near(2), 'near-2')).toMatchObject({ suggests: 'block', evidence: { entryId: 'viral-12', distance: 4 } });
    expect(await scan(near(3), 'near-3')).toMatchObject({ suggests: 'review', evidence: { entryId: 'viral-12', quarantined: true } });
    expect((await store.quarantined('viral')).map(({ id, items }) => ({ id, items }))).toEqual([{ id: 'viral-12', items: 4 }]);
  });

  it('a worker blocks every repost of a known-bad image under new contentIds, past the flood limit', async () => {
    const file = 'shapes.jpg';
    const bytes = readFileSync(join(FIXTURE_IMAGES, file)).toString('base64');
    await store.create({ name: 'e2e-viral', algorithm: 'pdq', flood: { maxItems: 3, windowSeconds: 3600 } });
    await store.add('e2e-viral', [{ id: 'viral-shapes', hash: (await fixtureHashes(file)).pdq }]);
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const worker = await startInProcessWorker(prefix);
    try {
      const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => client.enqueue({ contentId: `repost-${i}`, surface: 'upload', items: [{ bytesBase64: bytes }] })));
      const verdicts = await Promise.all(jobs.map(({ jobId }) => client.waitForVerdict(jobId, { timeoutMs: 15_000 })));
      const hashSetSignals = verdicts.map((verdict) => verdict.signals.filter((signal) => signal.source === 'hashset' && signal.evidence.set === 'e2e-viral'));
      expect(verdicts.map((verdict) => verdict.decision)).toEqual(Array(6).fill('block'));
      for (const signals of hashSetSignals) expect(signals).toEqual([expect.objectContaining({ suggests: 'block', evidence: expect.not.objectContaining({ quarantined: true }) })]);
      expect(await store.quarantined('e2e-viral')).toEqual([]);
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});
