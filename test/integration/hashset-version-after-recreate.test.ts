/**
 * A hash set deleted and created again under its name goes on after the deleted one's last version
 * (kept in the tombstones: hashSetTombstonesKey), so a version a verdict names (`versions.hashSets`,
 * evidence `setVersion`) is of one set's contents only, and an audit can tell the two apart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { hashSetTombstonesKey } from '../../src/hashsets/hash-set-keys.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import type { ConsumedVerdict } from '../../src/jobs/verdict-schema.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { FIXTURE_IMAGES, fixtureHashes, seededHash as hash } from '../harness/hashes.js';
import { suiteRedis, TEST_REDIS_URL } from '../harness/redis.js';

describe('hash-set versions across a deletion (Redis)', () => {
  const { prefix, redis } = suiteRedis('hashset-version-recreate');
  const store = new HashSetStore(redis, { prefix });
  const tombstones = hashSetTombstonesKey(prefix);

  it('a set created again starts past every version the deleted one had, each time, and its copies load as ever', async () => {
    await store.create({ name: 'rev', algorithm: 'pdq' });
    await store.add('rev', [{ id: 'old-a', hash: hash(1) }]);
    await store.add('rev', [{ id: 'old-b', hash: hash(2) }]);
    expect(await store.delete('rev')).toEqual({ name: 'rev', version: 2, entries: 2 });
    // Kept by the deletion, under the prefix but outside the set's own keys.
    expect(await redis.hget(tombstones, 'rev')).toBe('2');
    expect(await redis.keys(`${prefix}:hashset:rev:*`)).toEqual([]);

    const subscriber = redis.duplicate();
    const published: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => published.push(message));
    await subscriber.subscribe(store.channel);
    try {
      expect(await store.create({ name: 'rev', algorithm: 'pdq', kind: 'review' })).toBe(true);
    } finally {
      await subscriber.quit();
    }
    expect(await store.summary('rev')).toMatchObject({ version: 3, size: 0, nextEntryNo: 0, config: { kind: 'review' } });
    expect(published).toContain('rev 3');
    expect(await redis.hexists(tombstones, 'rev')).toBe(0);
    expect(await store.add('rev', [{ id: 'new-c', hash: hash(3) }])).toMatchObject({ version: 4, added: 1 });
    const { set } = await ReplicatedHashSet.load(store, 'rev');
    expect({ version: set.version, old: set.match([hash(1)]).length, fresh: set.match([hash(3)]).length }).toEqual({ version: '4', old: 0, fresh: 1 });

    // Again: the versions keep rising, from the creation on (an empty set's version too).
    expect(await store.delete('rev')).toMatchObject({ version: 4 });
    await store.create({ name: 'rev', algorithm: 'pdq' });
    expect(await store.version('rev')).toBe(5);
    // A set never deleted starts at 0 as ever, and deleting nothing keeps no tombstone.
    await store.create({ name: 'first', algorithm: 'pdq' });
    expect(await store.version('first')).toBe(0);
    expect(await store.delete('never-made')).toBeUndefined();
    expect(await redis.hkeys(tombstones)).toEqual([]);
  });

  it("a worker's verdict after the set is deleted and created again names the new version, not the deleted one's", async () => {
    const file = 'shapes.jpg';
    const bytes = readFileSync(join(FIXTURE_IMAGES, file)).toString('base64');
    const { pdq } = await fixtureHashes(file);
    await store.create({ name: 'e2e-rev', algorithm: 'pdq' });
    await store.add('e2e-rev', [{ id: 'rev-1', hash: pdq, label: 'first incarnation' }]);
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const worker = await startInProcessWorker(prefix);
    let scans = 0;
    const scan = async () => {
      const { jobId } = await client.enqueue({ contentId: `rev-${scans}`, surface: 'upload', items: [{ bytesBase64: bytes }] }, { jobId: `rev-${scans++}` });
      return client.waitForVerdict(jobId, { timeoutMs: 10_000 });
    };
    const setVersions = (verdict: ConsumedVerdict) => ({
      versions: verdict.versions.hashSets['e2e-rev'],
      evidence: verdict.signals.filter((s) => s.source === 'hashset' && s.evidence.set === 'e2e-rev').map((s) => s.evidence.setVersion),
    });
    try {
      expect(setVersions(await scan())).toEqual({ versions: '1', evidence: ['1'] });

      await store.delete('e2e-rev');
      await store.create({ name: 'e2e-rev', algorithm: 'pdq' });
      const { version } = await store.add('e2e-rev', [{ id: 'rev-1', hash: pdq, label: 'second incarnation' }]);
      expect(version).toBeGreaterThan(1);
      const changed = Date.now();
      let verdict = await scan();
      while (setVersions(verdict).evidence[0] !== String(version) && Date.now() - changed < 3000) verdict = await scan();
      expect(setVersions(verdict)).toEqual({ versions: String(version), evidence: [String(version)] });
      expect(verdict.signals.find((s) => s.source === 'hashset')!.evidence).toMatchObject({ entryId: 'rev-1', label: 'second incarnation' });
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});
