/**
 * Incremental list replication against real Redis: changes reach replicas through the per-list
 * changelog (no full load), versions stay exact while changes interleave with applying and
 * loading, and a replica falls back to a full load when the changelog cannot take it there
 * (trimmed, replaced, written by a writer from before the changelog).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalEntry, type ListEntry } from '../../src/lists/list-entry.js';
import { listKeys } from '../../src/lists/list-keys.js';
import type { ListMatcher } from '../../src/lists/list-matcher.js';
import { LayeredMap } from '../../src/lists/list-patch.js';
import { ListReplica } from '../../src/lists/list-replica.js';
import { ListStore, type ListIdentity, type ListStoreOptions } from '../../src/lists/list-store.js';
import { waitUntil } from '../harness/fleet.js';
import { targetOf } from '../harness/link-targets.js';
import { deletePrefix, testRedis, uniquePrefix } from '../harness/redis.js';

const entries = (...texts: string[]): ListEntry[] => texts.map((text) => canonicalEntry(text));
const hits = (matcher: ListMatcher, url: string) => matcher.matchTargets([targetOf(url)]).matches.length;

describe('incremental list replication (real Redis)', () => {
  const prefix = uniquePrefix('list-incremental');
  const redis = testRedis();

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  /**
   * A store that counts full loads of one list (the replica loads every list under the prefix) and
   * can run a write in the middle of reading identity (changesSince's first step) or a scan.
   */
  class WatchedStore extends ListStore {
    fullLoads = 0;
    duringIdentity: (() => Promise<unknown>) | undefined;
    identitySkip = 0;
    duringScan: (() => Promise<unknown>) | undefined;
    constructor(
      private readonly watched: string,
      options: Partial<ListStoreOptions> = {},
    ) {
      super(redis, { prefix, ...options });
    }
    override async loadWithIdentity(name: string) {
      if (name === this.watched) this.fullLoads++;
      return super.loadWithIdentity(name);
    }
    override async identity(name: string): Promise<ListIdentity | undefined> {
      const identity = await super.identity(name);
      if (name !== this.watched || this.duringIdentity === undefined) return identity;
      // The sync reads identity, then changesSince reads it again before XRANGE: skip the first.
      if (this.identitySkip-- > 0) return identity;
      const write = this.duringIdentity;
      this.duringIdentity = undefined;
      await write?.();
      return identity;
    }
    override async *scanEntries(name: string) {
      for await (const page of super.scanEntries(name)) {
        yield page;
        if (name !== this.watched) continue;
        const write = this.duringScan;
        this.duringScan = undefined;
        await write?.();
      }
    }
  }
  /** Writes no replica hears (another channel): only the version check finds them. */
  class UnheardStore extends ListStore {
    override get channel(): string {
      return `${prefix}:nobody-listens`;
    }
  }

  it('logs every change under the list hash tag, one record per changed entry, ids <version>-<n>', async () => {
    const store = new ListStore(redis, { prefix });
    await store.add('log', entries('a.example', 'b.example/x/'), { action: 'review' });
    await store.add('log', entries('a.example')); // unchanged: no version, no record
    await store.remove('log', entries('b.example/x/', 'never.example'));
    const log = await redis.xrange(listKeys(prefix, 'log').log, '-', '+');
    expect(log.map(([id, fields]) => [id, fields[1]])).toEqual([
      ['1-0', 'settings'],
      ['1-1', 'add'],
      ['1-2', 'add'],
      ['2-0', 'remove'],
    ]);
    expect(listKeys(prefix, 'log').log.startsWith(prefix)).toBe(true);
    expect(await store.changesSince('log', 1)).toMatchObject({ gap: false, version: 2, changes: [{ version: 2, op: 'remove', kind: 'expression', value: 'b.example/x/' }] });
  });

  it('applies adds, removals and settings from the changelog without loading the list again; a matcher taken earlier keeps its version', async () => {
    const store = new WatchedStore('inc');
    await store.add('inc', entries('old.example', 'gone.example'));
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      expect(store.fullLoads).toBe(1);
      const before = replica.current();
      await store.add('inc', entries('new.example/phish/'));
      await store.remove('inc', entries('gone.example'));
      await store.add('inc', [], { action: 'review' });
      expect(await waitUntil(async () => replica.current().versions().inc === '4', 1000, 5)).toBe(true);
      const now = replica.current();
      expect(hits(now, 'http://new.example/phish/kit.html')).toBe(1);
      expect(hits(now, 'http://gone.example/')).toBe(0);
      expect(now.matchTargets([targetOf('http://old.example/')]).matches[0]).toMatchObject({ listVersion: '4', action: 'review' });
      expect(store.fullLoads).toBe(1);
      // The matcher a job took before: version 1 and its entries only.
      expect(before.versions().inc).toBe('1');
      expect(hits(before, 'http://new.example/phish/kit.html')).toBe(0);
      expect(before.matchTargets([targetOf('http://gone.example/')]).matches[0]).toMatchObject({ listVersion: '1', action: 'block' });
    } finally {
      await replica.close();
    }
  });

  it('versions stay exact while changes land during the changelog read and during a full load', async () => {
    const store = new WatchedStore('race', { batchSize: 50 });
    const writer = new ListStore(redis, { prefix });
    let next = 0;
    const addNext = () => writer.add('race', entries(`e${next++}.example`));
    // A list large enough for several HSCAN pages, so writes land inside the scan.
    await store.import('race', Array.from({ length: 400 }, (_, i) => ({ kind: 'domain', value: `bulk${i}.example` }) as ListEntry));
    await writer.remove('race', entries('bulk0.example'));
    // Versions 1 (import) and 2 (removal); then version base + k holds e0 .. e(k-1).
    const base = 2;
    const exactFrom = (matcher: ListMatcher) => {
      const version = Number(matcher.versions().race) - base;
      for (let i = 0; i < next + 2; i++) expect([i, hits(matcher, `http://e${i}.example/`)]).toEqual([i, i < version ? 1 : 0]);
      expect(hits(matcher, 'http://bulk0.example/')).toBe(0);
      expect(hits(matcher, 'http://bulk399.example/')).toBe(1);
    };
    store.duringScan = async () => {
      await addNext();
      await addNext();
    };
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      // The full load replayed the two adds made during its scan.
      expect(replica.current().versions().race).toBe(String(base + 2));
      exactFrom(replica.current());
      for (let round = 0; round < 20; round++) {
        // A change lands between the identity read and the changelog read of the replica's sync.
        store.identitySkip = round % 2; // between the sync's two reads, or between changesSince's read and XRANGE
        store.duringIdentity = addNext;
        await addNext();
        await waitUntil(async () => replica.current().versions().race === String(base + next), 1000, 2);
        exactFrom(replica.current());
      }
      expect(next).toBe(2 + 20 * 2); // every injected write ran
      expect(replica.current().versions().race).toBe(String(base + next));
      expect(store.fullLoads).toBe(1);
    } finally {
      await replica.close();
    }
  });

  it('loads the list whole when the changelog was trimmed past its version, when it was replaced, and for a change by a writer from before the changelog', async () => {
    const store = new WatchedStore('fallback');
    const unheard = new UnheardStore(redis, { prefix });
    const keys = listKeys(prefix, 'fallback');
    await store.add('fallback', entries('one.example'));
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      expect(store.fullLoads).toBe(1);
      // Trimmed: two changes nobody heard, the log cut to the last record.
      await unheard.add('fallback', entries('two.example'));
      await unheard.add('fallback', entries('three.example'));
      await redis.xtrim(keys.log, 'MAXLEN', 1);
      expect(await store.changesSince('fallback', 1)).toMatchObject({ gap: true });
      await replica.refresh();
      expect(store.fullLoads).toBe(2);
      expect(replica.current().versions().fallback).toBe('3');
      expect(hits(replica.current(), 'http://two.example/')).toBe(1);

      // Replaced: `import --replace` logs `reload`.
      await store.import('fallback', entries('four.example'), { replace: true });
      expect(await waitUntil(async () => replica.current().versions().fallback === '4', 1000, 5)).toBe(true);
      expect(store.fullLoads).toBe(3);
      expect(hits(replica.current(), 'http://one.example/')).toBe(0);
      expect(hits(replica.current(), 'http://four.example/')).toBe(1);

      // A writer from before the changelog: entries and version, no record.
      await redis.hset(keys.entries, 'd:five.example', ' {}');
      await redis.hincrby(keys.meta, 'version', 1);
      await replica.refresh();
      expect(store.fullLoads).toBe(4);
      expect(replica.current().versions().fallback).toBe('5');
      expect(hits(replica.current(), 'http://five.example/')).toBe(1);
      // The next change by a current writer is applied from the changelog again.
      await store.add('fallback', entries('six.example'));
      expect(await waitUntil(async () => hits(replica.current(), 'http://six.example/') === 1, 1000, 5)).toBe(true);
      expect(store.fullLoads).toBe(4);
    } finally {
      await replica.close();
    }
  });

  it('a list from before the changelog (no log key) is applied incrementally from its first logged change; a deleted log means a full load', async () => {
    const store = new WatchedStore('legacy');
    const keys = listKeys(prefix, 'legacy');
    await store.add('legacy', entries('a.example'));
    await redis.del(keys.log); // as an older release left it
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      await store.add('legacy', entries('b.example'));
      expect(await waitUntil(async () => hits(replica.current(), 'http://b.example/') === 1, 1000, 5)).toBe(true);
      expect(store.fullLoads).toBe(1);
      await new UnheardStore(redis, { prefix }).add('legacy', entries('c.example'));
      await redis.del(keys.log);
      await replica.refresh();
      expect(store.fullLoads).toBe(2);
      expect(hits(replica.current(), 'http://c.example/')).toBe(1);
    } finally {
      await replica.close();
    }
  });

  it('staged changes (large adds, removals, imports) log their entries; past the staging limit they log `reload`; a large layer is compacted', async () => {
    const store = new WatchedStore('staged', { batchSize: 100 });
    await store.add('staged', entries('seed.example'));
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      const many = Array.from({ length: 5000 }, (_, i) => ({ kind: 'domain', value: `s${i}.example` }) as ListEntry);
      await store.add('staged', many); // staged in 50 batches, one version
      expect(await waitUntil(async () => replica.current().versions().staged === '2', 2000, 5)).toBe(true);
      expect(hits(replica.current(), 'http://s4999.example/')).toBe(1);
      // 5000 entries over a base of 1: compacted into plain maps, same version and entries.
      const staged = () => replica.current().lists.find((list) => list.name === 'staged')!;
      expect(await waitUntil(async () => !(staged().domains instanceof LayeredMap), 2000, 5)).toBe(true);
      expect(staged()).toMatchObject({ version: '2', size: 5001 });
      await store.remove('staged', many.slice(0, 200));
      expect(await waitUntil(async () => replica.current().versions().staged === '3', 2000, 5)).toBe(true);
      expect(hits(replica.current(), 'http://s0.example/')).toBe(0);
      expect(hits(replica.current(), 'http://s200.example/')).toBe(1);
      expect(store.fullLoads).toBe(1);
      // 200 removals over a base of 5001: a layer, not worth compacting.
      expect(staged().domains).toBeInstanceOf(LayeredMap);
      expect(staged()).toMatchObject({ version: '3', size: 4801 });

      // A store whose changelog keeps 10 records: an import of 20 new entries logs `reload`.
      const small = new ListStore(redis, { prefix, batchSize: 100, changelogMaxLength: 10 });
      await small.import('staged', Array.from({ length: 20 }, (_, i) => ({ kind: 'domain', value: `t${i}.example` }) as ListEntry));
      const log = await redis.xrange(listKeys(prefix, 'staged').log, '4-0', '+');
      expect(log.map(([, fields]) => fields[1])).toEqual(['reload']);
      expect(await waitUntil(async () => hits(replica.current(), 'http://t19.example/') === 1, 2000, 5)).toBe(true);
      expect(store.fullLoads).toBe(2);
      expect(await redis.keys(`${prefix}:list:staged:staging*`)).toEqual([]);
    } finally {
      await replica.close();
    }
  });
});
