/**
 * Known-good (negative) hash sets on the image fixtures, through the real pipeline and replicas of
 * sets held in Redis: a near-duplicate of a known-bad image reported as a false positive is let
 * through, and the known-bad image itself is still blocked (the known-good entry is 20 bits from
 * it, the known-bad entry 0). `hashset stats` of the known-good set counts the matches it hid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runCli } from '../harness/cli.js';
import { FIXTURE_IMAGES, fixtureHashes, fixtureScanner } from '../harness/hashes.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

const pdqOf = async (file: string) => (await fixtureHashes(file)).pdq;

describe('known-good hash sets suppress only the hits they are closer than', () => {
  const prefix = uniquePrefix('hashset-known-good');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });
  let pipeline: ScanPipeline;
  const scan = fixtureScanner(() => pipeline, 'known-good');

  beforeAll(async () => {
    await store.create({ name: 'known-bad', algorithm: 'pdq' });
    await store.create({ name: 'memes-ok', algorithm: 'pdq', kind: 'negative' });
    await store.add('known-bad', [{ id: 'clouds', hash: await pdqOf('clouds.jpg') }]);
    await store.add('memes-ok', [{ id: 'fp-1', hash: await pdqOf('clouds--crop2.jpg'), label: 'reported false positive' }]);
    const config = loadConfig({ ABUSE_SCAN_MODELS: 'off' }, { redisUrl: TEST_REDIS_URL, prefix, imageRoot: FIXTURE_IMAGES });
    pipeline = await createScanPipeline(config, { logger: createLogger('silent'), connection: redis });
  });

  afterAll(async () => {
    await pipeline?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('blocks an exact copy of the known-bad image although a near-duplicate of it is known-good', async () => {
    const verdict = await scan('clouds.jpg');
    expect(verdict.decision).toBe('block');
    const known = verdict.signals.find((s) => s.evidence.set === 'memes-ok')!;
    expect(verdict.signals.find((s) => s.evidence.set === 'known-bad')).toMatchObject({ suggests: 'block', evidence: { entryId: 'clouds', distance: 0 } });
    expect(known).toMatchObject({ suggests: 'allow', evidence: { entryId: 'fp-1', knownGood: true, suppressed: [] } });
    expect(known.evidence.distance).toBeGreaterThan(0);
  });

  it('allows the known-good near-duplicate, naming the hit it suppressed and both distances', async () => {
    const verdict = await scan('clouds--crop2.jpg');
    expect(verdict.decision).toBe('allow');
    expect(verdict.signals).toEqual([
      expect.objectContaining({
        suggests: 'allow',
        evidence: expect.objectContaining({
          set: 'memes-ok',
          entryId: 'fp-1',
          distance: 0,
          suppressed: [{ set: 'known-bad', entryId: 'clouds', distance: expect.any(Number), frame: 0, knownGoodEntryId: 'fp-1', knownGoodDistance: 0 }],
        }),
      }),
    ]);
  });

  it('hashset stats of the known-good set counts the match it suppressed, and nothing for a scan where it suppressed none', async () => {
    const stats = async (name: string) => {
      // The pipeline counts on `redis` without waiting for the reply: a reply to a later command on
      // that connection means Redis has applied the count.
      await redis.ping();
      const { code, stdout, stderr } = await runCli(['hashset', 'stats', name, '--json'], { env: { ABUSE_SCAN_PREFIX: prefix } });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      return JSON.parse(stdout) as { matches: number | null; suppressions: number | null };
    };
    const [good, bad] = await Promise.all([stats('memes-ok'), stats('known-bad')]);
    expect(good).toMatchObject({ matches: null, suppressions: expect.any(Number) });
    expect(bad).toMatchObject({ matches: expect.any(Number), suppressions: null });

    expect((await scan('clouds--crop2.jpg')).decision).toBe('allow');
    expect(await stats('memes-ok')).toMatchObject({ suppressions: good.suppressions! + 1 });
    expect(await stats('known-bad')).toMatchObject({ matches: bad.matches });

    // Blocked: memes-ok matches too, but hides nothing.
    expect((await scan('clouds.jpg')).decision).toBe('block');
    expect(await stats('memes-ok')).toMatchObject({ suppressions: good.suppressions! + 1 });
    expect(await stats('known-bad')).toMatchObject({ matches: bad.matches! + 1 });
  }, 60_000);
});
