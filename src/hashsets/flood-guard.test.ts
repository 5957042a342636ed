import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, testRedis, uniquePrefix } from '../../test/harness/redis.js';
import { floodWindow, MAX_WALKED_CANDIDATES, MemoryFloodGuard, ReadOnlyFloodGuard, RedisFloodGuard } from './flood-guard.js';
import { resolveHashSetConfig } from './hash-set-config.js';
import { hashSetKeys } from './hash-set-keys.js';

describe('flood guard: the walk over an item\'s candidates is bounded', () => {
  const prefix = uniquePrefix('flood-guard');
  const redis = testRedis();
  const config = resolveHashSetConfig({ name: 'bad', algorithm: 'pdq', flood: { maxItems: 1, windowSeconds: 3600 } });
  // 40 candidates: every one up to the bound is quarantined, the first one past it is not.
  const candidates = Array.from({ length: 40 }, (_, entryNo) => ({ entryNo, id: `e${entryNo}` }));
  const quarantinedIds = candidates.slice(0, MAX_WALKED_CANDIDATES).map((c) => c.id);

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it(`Redis: walks at most ${MAX_WALKED_CANDIDATES} candidates in one script call, and touches no counter beyond them`, async () => {
    const keys = hashSetKeys(prefix, config.name);
    await redis.hset(keys.quarantine, Object.fromEntries(quarantinedIds.map((id) => [id, '{}'])));
    const guard = new RedisFloodGuard(redis, prefix);
    expect(await guard.recordMatchAmong(config, candidates, 'c:item')).toBe(-1);
    const window = floodWindow(Date.now(), config.flood.windowSeconds);
    expect(await redis.exists(keys.flood(MAX_WALKED_CANDIDATES, window))).toBe(0);
    // Within the bound, the walk still stands on the first candidate not quarantined.
    await redis.hdel(keys.quarantine, quarantinedIds.at(-1)!);
    expect(await guard.recordMatchAmong(config, candidates, 'c:item')).toBe(MAX_WALKED_CANDIDATES - 1);
  });

  it(`memory: walks at most ${MAX_WALKED_CANDIDATES} candidates`, async () => {
    const guard = new MemoryFloodGuard(undefined, () => 1_000_000);
    guard.quarantined.set(config.name, new Map(quarantinedIds.map((id) => [id, { at: '', items: 2 }])));
    expect(await guard.recordMatchAmong(config, candidates, 'c:item')).toBe(-1);
    guard.quarantined.get(config.name)!.delete(quarantinedIds.at(-1)!);
    expect(await guard.recordMatchAmong(config, candidates, 'c:item')).toBe(MAX_WALKED_CANDIDATES - 1);
  });

  describe("each candidate counts its own item when it gives one (the frame that matched it)", () => {
    const flood = resolveHashSetConfig({ name: 'frames', algorithm: 'pdq', flood: { maxItems: 2, windowSeconds: 3600 } });
    // A is quarantined; B is matched by frame `h:b`, whatever else the images carrying it hold.
    const walk = (item: string) => [
      { entryNo: 0, id: 'A', itemKey: `h:a-${item}` },
      { entryNo: 1, id: 'B', itemKey: 'h:b' },
    ];

    it('Redis', async () => {
      const keys = hashSetKeys(prefix, flood.name);
      await redis.hset(keys.quarantine, 'A', '{}');
      const guard = new RedisFloodGuard(redis, prefix);
      for (const item of ['x', 'y', 'z', 'w']) expect(await guard.recordMatchAmong(flood, walk(item), `h:image-${item}`)).toBe(1);
      expect(await redis.pfcount(keys.flood(1, floodWindow(Date.now(), 3600)))).toBe(1);
      expect(await redis.exists(keys.flood(0, floodWindow(Date.now(), 3600)))).toBe(0);
    });

    it('memory', async () => {
      const guard = new MemoryFloodGuard(undefined, () => 1_000_000);
      guard.quarantined.set(flood.name, new Map([['A', { at: '', items: 3 }]]));
      for (const item of ['x', 'y', 'z', 'w']) expect(await guard.recordMatchAmong(flood, walk(item), `h:image-${item}`)).toBe(1);
    });
  });
});

describe('flood guard: a counter key Redis refuses never loses a match', () => {
  const prefix = uniquePrefix('flood-guard-refused');
  const redis = testRedis();
  const config = resolveHashSetConfig({ name: 'bad', algorithm: 'pdq', flood: { maxItems: 5, windowSeconds: 3600 } });
  const candidates = [{ entryNo: 0, id: 'e0' }, { entryNo: 1, id: 'e1' }];

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('a flood counter of another type (WRONGTYPE): the closest candidate stands, the error goes to onError', async () => {
    const keys = hashSetKeys(prefix, config.name);
    await redis.hset(keys.flood(0, floodWindow(Date.now(), 3600)), 'not', 'a hyperloglog');
    const errors: Array<[string, string]> = [];
    const guard = new RedisFloodGuard(redis, prefix, undefined, Date.now, (set, error) => errors.push([set, error.message]));
    expect(await guard.recordMatchAmong(config, candidates, 'c:item')).toBe(0);
    expect(errors).toEqual([['bad', expect.stringMatching(/^WRONGTYPE/)]]);
  });

  it('read-only: a quarantine of another type lets the closest candidate stand', async () => {
    const keys = hashSetKeys(prefix, 'other');
    await redis.set(keys.quarantine, 'a string');
    const errors: string[] = [];
    const guard = new ReadOnlyFloodGuard(redis, prefix, (set) => errors.push(set));
    expect(await guard.recordMatchAmong(resolveHashSetConfig({ name: 'other', algorithm: 'pdq' }), candidates)).toBe(0);
    expect(errors).toEqual(['other']);
  });

  it('Redis out of reach still rejects (the job is retried)', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const guard = new RedisFloodGuard(down, prefix, undefined, Date.now, () => {
      throw new Error('not a refusal');
    });
    await expect(guard.recordMatchAmong(config, candidates, 'c:item')).rejects.toThrow();
    down.disconnect();
  });
});
