/**
 * A flood-guard quarantine belongs to one entry, through Redis as workers run it: it hides no other
 * entry's match of the same set, and it goes when its entry goes (an id removed and added again, a
 * corrected hash, starts afresh), with the quarantined-entries gauge following.
 */
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { floodWindow, MAX_WALKED_CANDIDATES, RedisFloodGuard } from '../../src/hashsets/flood-guard.js';
import { HashSetMetrics } from '../../src/hashsets/hash-set-metrics.js';
import { HashSetReplicas } from '../../src/hashsets/hash-set-replicas.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { ReplicatedHashSet } from '../../src/hashsets/replicated-hash-set.js';
import type { ImageHashes } from '../../src/images/index.js';
import type { ImageSubject } from '../../src/pipeline/image-preparer.js';
import { createLogger } from '../../src/runtime/logger.js';
import { MAX_LISTED_QUARANTINED } from '../../src/signals/hashset-match/hashset-match-signal.js';
import { HashSetMatchSignalType } from '../../src/signals/hashset-match/index.js';
import { waitUntil } from '../harness/fleet.js';
import { seededHash as hash, subjectOfFrames } from '../harness/hashes.js';
import { deletePrefix, testRedis, uniquePrefix } from '../harness/redis.js';

function flipRange(bytes: Uint8Array, from: number, count: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  for (let bit = from; bit < from + count; bit++) copy[bit >> 3]! ^= 0x80 >> (bit & 7);
  return copy;
}

function imageOf(pdq: Uint8Array): ImageSubject {
  const frame: ImageHashes = { pdq, dihedral: [pdq, ...Array.from({ length: 7 }, (_, i) => hash(90_000 + i))], blockhash: hash(5), pdqQuality: 100 };
  return subjectOfFrames([frame]);
}

async function sample(registry: Registry, series: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('hash-set quarantine is per entry (Redis)', () => {
  const prefix = uniquePrefix('hashset-quarantine');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('a quarantined entry hides no other entry of the set: the item gets the action through the closest one not quarantined, counted once', async () => {
    const J = hash(1000); // a junk template that floods
    const Q = flipRange(J, 0, 10); // the scanned image: 10 bits from J
    const R = flipRange(Q, 100, 20); // a real known-bad entry: 20 bits from Q, 30 from J
    await store.create({ name: 'scope', algorithm: 'pdq', flood: { maxItems: 2, windowSeconds: 3600 } });
    await store.add('scope', [
      { id: 'junk-template', hash: J },
      { id: 'real-bad', hash: R, label: 'known bad' },
    ]);
    const { set } = await ReplicatedHashSet.load(store, 'scope');
    const metrics = new HashSetMetrics(new Registry());
    const type = new HashSetMatchSignalType({ source: { sets: () => [set] }, floodGuard: new RedisFloodGuard(redis, prefix, metrics) });
    const scan = async (pdq: Uint8Array, contentId: string) => (await type.match(imageOf(pdq), 0, { jobId: contentId, contentId, surface: 'upload' }))[0]!;

    // Items are images: J's flood is of different images (two beside J, out of R's reach).
    expect((await scan(flipRange(J, 200, 2), 'a')).evidence.entryId).toBe('junk-template');
    expect((await scan(flipRange(J, 210, 2), 'b')).evidence.entryId).toBe('junk-template');
    // The third distinct item quarantines J; it is J itself, 30 bits from R: blocked through R.
    expect(await scan(J, 'c')).toMatchObject({ suggests: 'block', evidence: { entryId: 'real-bad', distance: 30 } });
    expect((await store.quarantined('scope')).map((q) => q.id)).toEqual(['junk-template']);

    const signal = await scan(Q, 'victim');
    expect(signal).toMatchObject({
      suggests: 'block',
      score: 1 - 20 / 32,
      evidence: { entryId: 'real-bad', label: 'known bad', distance: 20, matches: 2, quarantinedMatches: [{ entryId: 'junk-template', distance: 10, frame: 0 }] },
    });
    expect(signal.evidence).not.toHaveProperty('quarantined');
    // One match of the set per item (4), though two of them walked past J in a second call.
    expect((await store.summary('scope')).matches).toBe(4);
    // An item near J alone still asks for review.
    expect(await scan(flipRange(J, 200, 5), 'near-junk')).toMatchObject({ suggests: 'review', evidence: { entryId: 'junk-template', quarantined: true } });
  });

  it('a quarantined entry passes its match on to no hit a known-good entry is strictly closer than: no harsher than removing it', async () => {
    const img = hash(4242); // the scanned image
    const A = flipRange(img, 0, 5); // floods: 5 bits from the image
    const B = flipRange(img, 100, 25); // 25 bits from the image
    const N = flipRange(img, 200, 10); // known-good: 10 bits, closer than B
    await store.create({ name: 'kg-bad', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
    await store.create({ name: 'kg-good', algorithm: 'pdq', kind: 'negative' });
    await store.add('kg-bad', [{ id: 'A-flooding', hash: A }, { id: 'B-far', hash: B }]);
    await store.add('kg-good', [{ id: 'N-logo', hash: N }]);
    const [{ set: bad }, { set: good }] = await Promise.all([ReplicatedHashSet.load(store, 'kg-bad'), ReplicatedHashSet.load(store, 'kg-good')]);
    const type = new HashSetMatchSignalType({ source: { sets: () => [bad, good] }, floodGuard: new RedisFloodGuard(redis, prefix) });
    const scan = async (pdq: Uint8Array, contentId: string) => type.match(imageOf(pdq), 0, { jobId: contentId, contentId, surface: 'upload' });
    await scan(A, 'a');
    await scan(flipRange(A, 240, 1), 'b'); // the second distinct image quarantines A
    expect((await store.quarantined('kg-bad')).map((q) => q.id)).toEqual(['A-flooding']);

    const signals = await scan(img, 'victim');
    expect(signals.map((s) => [s.evidence.set, s.suggests, s.evidence.entryId])).toEqual([
      ['kg-bad', 'review', 'A-flooding'],
      ['kg-good', 'allow', 'N-logo'],
    ]);
    expect(signals[0]!.evidence).toMatchObject({ quarantined: true, distance: 5 });
    expect(signals[1]!.evidence.suppressed).toEqual([{ set: 'kg-bad', entryId: 'B-far', distance: 25, frame: 0, knownGoodEntryId: 'N-logo', knownGoodDistance: 10 }]);
  });

  it(`a flood of quarantined entries within reach costs a bounded walk (${MAX_WALKED_CANDIDATES} entries) and bounded evidence`, async () => {
    const img = hash(777);
    const entries = Array.from({ length: 200 }, (_, i) => ({ id: `near-blank-${i}`, hash: flipRange(flipRange(img, i, 1), (i * 7 + 3) % 256, 1) }));
    await store.create({ name: 'blank-flood', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
    await store.add('blank-flood', entries);
    const keys = store.keys('blank-flood');
    await redis.hset(keys.quarantine, Object.fromEntries(entries.map(({ id }) => [id, '{}'])));
    const { set } = await ReplicatedHashSet.load(store, 'blank-flood');
    const type = new HashSetMatchSignalType({ source: { sets: () => [set] }, floodGuard: new RedisFloodGuard(redis, prefix) });
    const [signal] = await type.match(imageOf(img), 0, { jobId: 'x', contentId: 'x', surface: 'upload' });
    expect(signal).toMatchObject({
      suggests: 'review',
      evidence: { quarantined: true, moreQuarantinedMatches: MAX_WALKED_CANDIDATES - 1 - MAX_LISTED_QUARANTINED },
    });
    expect(signal!.evidence.matches).toBeGreaterThan(MAX_WALKED_CANDIDATES);
    expect(signal!.evidence.quarantinedMatches).toHaveLength(MAX_LISTED_QUARANTINED);
    expect(JSON.stringify(signal!.evidence).length).toBeLessThan(2000);
  });

  it('a removed entry takes its quarantine and flood counters with it: added again under the same id it starts afresh, and the gauge follows', async () => {
    await store.create({ name: 'requarantine', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
    await store.add('requarantine', [
      { id: 'ncmec-123', hash: hash(1) },
      { id: 'other', hash: hash(2) },
    ]);
    const { config } = await store.summary('requarantine');
    const keys = store.keys('requarantine');
    const window = floodWindow(Date.now(), 3600);
    const registry = new Registry();
    const metrics = new HashSetMetrics(registry);
    const replicas = new HashSetReplicas({ store, subscriber: redis.duplicate(), logger: createLogger('silent'), checkIntervalMs: 50, metrics });
    await replicas.start();
    const gauge = 'abuse_scan_hashset_quarantined_entries{set="requarantine"}';
    try {
      const guard = new RedisFloodGuard(redis, prefix, metrics);
      expect(await guard.recordMatch(config, { entryNo: 0, id: 'ncmec-123' }, 'c:a')).toBe(false);
      expect(await guard.recordMatch(config, { entryNo: 0, id: 'ncmec-123' }, 'c:b')).toBe(true);
      expect(await guard.recordMatch(config, { entryNo: 1, id: 'other' }, 'c:a')).toBe(false);
      expect(await store.quarantinedCount('requarantine')).toBe(1);
      expect(await sample(registry, gauge)).toBe(1);
      expect(await redis.exists(keys.flood(0, window))).toBe(1);

      expect(await store.remove('requarantine', ['ncmec-123'])).toMatchObject({ removed: 1 });
      expect(await store.quarantined('requarantine')).toEqual([]);
      expect(await store.quarantinedCount('requarantine')).toBe(0);
      expect(await redis.exists(keys.flood(0, window))).toBe(0);
      expect(await redis.exists(keys.flood(1, window))).toBe(1); // the other entry's counter stays
      expect(await waitUntil(async () => (await sample(registry, gauge)) === 0, 2000, 20)).toBe(true);

      // The operator adds the corrected hash under the same id: a new entry, not quarantined.
      await store.add('requarantine', [{ id: 'ncmec-123', hash: hash(3) }]);
      const entryNo = (await redis.hgetBuffer(keys.entries, 'ncmec-123'))!.readUInt32BE(0);
      expect(entryNo).toBe(2);
      expect(await guard.recordMatch(config, { entryNo, id: 'ncmec-123' }, 'c:z')).toBe(false);
      // Counted from zero: the second distinct item is the one past maxItems (1).
      expect(await guard.recordMatch(config, { entryNo, id: 'ncmec-123' }, 'c:y')).toBe(true);
      expect(await sample(registry, gauge)).toBe(1);
    } finally {
      await replicas.close();
    }
  });
});
