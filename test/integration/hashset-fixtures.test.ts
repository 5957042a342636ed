/**
 * Acceptance on the image fixtures: the five originals are hashed into a PDQ set and a blockhash
 * set in Redis, and every edited copy goes through the real pipeline (decode, hashes, replicas of
 * the sets, policy). Each copy must be blocked naming its own original, and nothing else.
 *
 * Which set catches what (distances in src/images/perceptual-match.test.ts): PDQ catches every copy
 * but one, rotations and mirrors through its dihedral variants; text-lines--crop2 is PDQ 32, one
 * bit past the threshold of 31, and is caught by the blockhash set instead (45 <= 64). Blockhash
 * has no rotation variants, so rot90 and mirror copies rely on PDQ alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { waitUntil } from '../harness/fleet.js';
import { FIXTURE_IMAGES, fixtureHashes, fixtureScanner } from '../harness/hashes.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

const ORIGINALS = ['rings', 'shapes', 'text-lines', 'clouds', 'mosaic'] as const;
const EDITS = ['jpeg-q20', 'half', 'crop2', 'rot90', 'mirror', 'gray'] as const;

describe('fixtures acceptance: edited copies are blocked through the hash sets', () => {
  const prefix = uniquePrefix('hashset-fixtures');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });
  let pipeline: ScanPipeline;
  const scan = fixtureScanner(() => pipeline, 'fixture');

  beforeAll(async () => {
    await store.create({ name: 'known-pdq', algorithm: 'pdq' });
    await store.create({ name: 'known-blockhash', algorithm: 'blockhash' });
    for (const original of ORIGINALS) {
      const hashes = await fixtureHashes(`${original}.jpg`);
      expect(hashes.pdqQuality).toBeGreaterThanOrEqual(50);
      await store.add('known-pdq', [{ id: original, hash: hashes.pdq, label: `fixture ${original}` }]);
      await store.add('known-blockhash', [{ id: original, hash: hashes.blockhash, label: `fixture ${original}` }]);
    }
    const config = loadConfig({}, { redisUrl: TEST_REDIS_URL, prefix, imageRoot: FIXTURE_IMAGES });
    pipeline = await createScanPipeline(config, { logger: createLogger('silent'), connection: redis });
  });

  afterAll(async () => {
    await pipeline?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  for (const original of ORIGINALS) {
    it(`every edit of ${original} is blocked, naming ${original} and no other original`, async () => {
      for (const edit of EDITS) {
        const verdict = await scan(`${original}--${edit}.jpg`);
        const name = `${original}--${edit}`;
        expect(verdict.decision, name).toBe('block');
        const signals = verdict.signals.filter((s) => s.source === 'hashset'); // other signal types may add theirs
        expect(signals.length, name).toBeGreaterThan(0);
        for (const signal of signals) {
          expect(signal, name).toMatchObject({ source: 'hashset', suggests: 'block', evidence: { entryId: original, label: `fixture ${original}` } });
        }
        const pdq = signals.find((s) => s.kind === 'pdq_match');
        if (name === 'text-lines--crop2') {
          // PDQ 32 > 31: only the blockhash set catches it.
          expect(pdq, name).toBeUndefined();
          expect(signals.find((s) => s.kind === 'blockhash_match')!.evidence, name).toMatchObject({ set: 'known-blockhash', threshold: 64 });
        } else {
          expect(pdq!.evidence, name).toMatchObject({ set: 'known-pdq', threshold: 31, frame: 0 });
          expect(pdq!.evidence.distance as number, name).toBeLessThanOrEqual(31);
        }
        // The variant names the turn of the scanned copy that lands on the entry: a copy turned clockwise
        // matches through its own quarter turn counter-clockwise (rotate90).
        if (edit === 'rot90') expect(pdq!.evidence.variant, name).toBe('rotate90');
        if (edit === 'mirror') expect(pdq!.evidence.variant, name).toBe('flipY');
        expect(verdict.versions.hashSets).toEqual({ 'known-pdq': '5', 'known-blockhash': '5' });
      }
    });
  }

  it('an original that is not in the sets gets no hash-set signal, and neither do its copies', async () => {
    await store.remove('known-pdq', ['clouds']);
    await store.remove('known-blockhash', ['clouds']);
    expect(await waitUntil(async () => pipeline.versions().hashSets['known-blockhash'] === '6', 1000, 10)).toBe(true);
    for (const file of ['clouds.jpg', ...EDITS.map((edit) => `clouds--${edit}.jpg`)]) {
      const verdict = await scan(file);
      expect(verdict.signals.filter((s) => s.source === 'hashset'), file).toEqual([]);
      expect(verdict.decision, file).not.toBe('block');
    }
    expect((await scan('rings.jpg')).decision).toBe('block');
  });
});
