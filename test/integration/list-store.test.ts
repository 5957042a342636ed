import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEntry, type ListEntry } from '../../src/lists/list-entry.js';
import { ListReplica } from '../../src/lists/list-replica.js';
import { listKeys, listTombstonesKey } from '../../src/lists/list-keys.js';
import { ListRoleError } from '../../src/lists/list-entry.js';
import { ListStore } from '../../src/lists/list-store.js';
import { waitUntil } from '../harness/fleet.js';
import { targetOf } from '../harness/link-targets.js';
import { deletePrefix, testRedis, uniquePrefix } from '../harness/redis.js';

const entries = (...texts: string[]): ListEntry[] => texts.map((text) => canonicalEntry(text));

describe('ListStore and ListReplica (real Redis)', () => {
  const prefix = uniquePrefix('lists');
  let redis: Redis;
  let store: ListStore;

  beforeAll(() => {
    redis = testRedis();
    store = new ListStore(redis, { prefix, batchSize: 7 });
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('keeps its keys under the fleet prefix', async () => {
    await store.add('keys', entries('evil.example'));
    expect((await redis.keys(`${prefix}*`)).sort()).toEqual([`${prefix}:list:keys:entries`, `${prefix}:list:keys:log`, `${prefix}:list:keys:meta`, `${prefix}:lists`]);
  });

  it('an import cut off mid-way (its connection lost) leaves staged keys that expire, while a finished one leaves its entries without a TTL', async () => {
    await store.add('staged', entries('kept.example'));
    const connection = testRedis();
    // The connection drops just before the third staging batch (a script run: EVALSHA through
    // call), so neither that batch nor the import's own clean-up reaches Redis, as when the CLI is
    // killed or Redis goes away.
    let batches = 0;
    const cutting = new Proxy(connection, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const method = (value as (...a: unknown[]) => unknown).bind(target);
        if (property !== 'call') return method;
        return (command: unknown, ...args: unknown[]) => {
          if (command === 'evalsha' && ++batches === 3) target.disconnect();
          return method(command, ...args);
        };
      },
    });
    const cut = new ListStore(cutting, { prefix, batchSize: 7 });
    const many = entries(...Array.from({ length: 100 }, (_, i) => `cut-${i}.example`));
    await expect(cut.import('staged', many)).rejects.toThrow();
    const staged = (await redis.keys(`${prefix}:list:staged:staging:*`)).sort();
    // The staged change only: the 14 entries of two batches, never a copy of the list.
    expect(staged).toHaveLength(1);
    expect(await redis.hlen(staged[0]!)).toBe(14);
    expect(await redis.hexists(staged[0]!, 'd:kept.example')).toBe(0);
    for (const key of staged) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }
    // The list is as it was; a finished import's entries (renamed from its staging) keep no TTL.
    expect(await store.summary('staged')).toMatchObject({ version: 1, size: 1 });
    expect((await store.import('staged', many)).version).toBe(2);
    expect(await redis.pttl(listKeys(prefix, 'staged').entries)).toBe(-1);
    await redis.unlink(...staged);
  });

  it('bumps the version on every change, and only on a change', async () => {
    const first = await store.add('phish', entries('evil.example', 'bad.example/kit/'), { action: 'review' });
    expect(first).toMatchObject({ version: 1, added: 2 });
    expect(await store.add('phish', entries('evil.example'))).toMatchObject({ version: 1, unchanged: 1 });
    expect(await store.add('phish', [{ ...canonicalEntry('evil.example'), label: 'kit-9' }])).toMatchObject({ version: 2, updated: 1 });
    expect(await store.remove('phish', entries('bad.example/kit/', 'never.example'))).toMatchObject({ version: 3, removed: 1 });
    expect(await store.remove('phish', entries('never.example'))).toMatchObject({ version: 3, removed: 0 });
    expect(await store.summary('phish')).toMatchObject({ version: 3, role: 'block', action: 'review', size: 1 });
    expect(await store.remove('nothing-here', entries('evil.example'))).toMatchObject({ version: 0, removed: 0 });
    expect(await store.summary('nothing-here')).toBeUndefined();
  });

  it('imports in batches atomically, idempotently, keeping the first addedAt', async () => {
    const many = Array.from({ length: 40 }, (_, i) => canonicalEntry(`host${i}.example`));
    const first = await store.import('feed', many, { role: 'block' });
    expect(first).toMatchObject({ version: 1, added: 40, removed: 0 });
    const loaded = await store.load('feed');
    const addedAt = loaded!.domains.get('host3.example');
    expect(loaded!.size).toBe(40);

    const again = await store.import('feed', many);
    expect(again).toMatchObject({ version: 1, added: 0, unchanged: 40 });
    expect((await store.load('feed'))!.domains.get('host3.example')).toBe(addedAt);

    const replaced = await store.import('feed', many.slice(0, 10), { replace: true });
    expect(replaced).toMatchObject({ version: 2, unchanged: 10, removed: 30 });
    expect((await store.summary('feed'))!.size).toBe(10);
    // No staging hash is left behind.
    expect(await redis.keys(`${prefix}:list:feed:staging:*`)).toEqual([]);
  });

  /** The messages on the changes channel from now on, until `close`. */
  async function listen(): Promise<{ published: string[]; close(): Promise<unknown> }> {
    const subscriber = redis.duplicate();
    const published: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => published.push(message));
    await subscriber.subscribe(store.channel);
    return { published, close: () => subscriber.quit() };
  }

  it('publishes one version for an add or a removal larger than a batch: a worker never loads half of it', async () => {
    const { published, close } = await listen();
    try {
      const many = Array.from({ length: 20 }, (_, i) => canonicalEntry(`bulk${i}.example`)); // batches of 7
      expect(await store.add('bulk', many, { action: 'review' })).toEqual({ version: 1, added: 20, updated: 0, unchanged: 0, removed: 0 });
      expect(await store.add('bulk', many)).toMatchObject({ version: 1, unchanged: 20 });
      expect(await store.remove('bulk', many.slice(0, 17))).toEqual({ version: 2, added: 0, updated: 0, unchanged: 0, removed: 17 });
      expect(await store.remove('bulk', many.slice(0, 17))).toMatchObject({ version: 2, removed: 0 });
      expect(await store.remove('no-bulk', many)).toMatchObject({ version: 0, removed: 0 });
      await waitUntil(async () => published.filter((m) => m.startsWith('bulk ')).length >= 2, 1000, 10);
      await new Promise((resolve) => setTimeout(resolve, 100)); // a third message would be here by now
      expect(published.filter((m) => m.startsWith('bulk '))).toEqual(['bulk 1', 'bulk 2']);
      expect(await store.summary('bulk')).toMatchObject({ version: 2, action: 'review', size: 3 });
      expect(await store.summary('no-bulk')).toBeUndefined();
      expect(await redis.keys(`${prefix}:list:bulk:staging:*`)).toEqual([]);
    } finally {
      await close();
    }
  });

  it('delete removes every key of the list, an import under way included, announces it and says what it deleted; a missing list: undefined', async () => {
    const { published, close } = await listen();
    try {
      await store.add('doomed', entries('evil.example', 'bad.example/kit/'));
      await store.remove('doomed', entries('evil.example'));
      await store.import('doomed', Array.from({ length: 20 }, (_, i) => canonicalEntry(`bulk${i}.example`))); // batches of 7: staged
      // An import under way: staged, not yet committed.
      const keys = store.keys('doomed');
      await redis.hset(keys.staging('under-way'), 'd:staged.example', '2026-01-01T00:00:00.000Z {}');
      await redis.hset(keys.stagingLog('under-way'), 'd:staged.example', '2026-01-01T00:00:00.000Z {}');
      const before = await redis.keys(`${prefix}*`);
      const own = before.filter((key) => key.startsWith(`${prefix}:list:doomed:`)).sort();
      expect(own).toEqual([keys.entries, keys.log, keys.meta, keys.staging('under-way'), keys.stagingLog('under-way')].sort());

      expect(await store.delete('doomed')).toEqual({ name: 'doomed', version: 3, entries: 21 });
      // Left under the prefix: the tombstones, which keep the last version for a list made again.
      const tombstones = listTombstonesKey(prefix);
      expect((await redis.keys(`${prefix}*`)).sort()).toEqual([...new Set([...before.filter((key) => !own.includes(key)), tombstones])].sort());
      expect(await redis.hget(tombstones, 'doomed')).toBe('3');
      expect(await store.names()).not.toContain('doomed');
      expect(await store.summary('doomed')).toBeUndefined();
      expect(await waitUntil(async () => published.includes('doomed deleted'), 1000, 10)).toBe(true);

      expect(await store.delete('doomed')).toBeUndefined();
      expect(await store.delete('never-made')).toBeUndefined();
      expect(await redis.keys(`${prefix}:list:never-made*`)).toEqual([]);
    } finally {
      await close();
    }
  });

  it('a list deleted and made again starts fresh: past the old versions, only its own entries, another incarnation for readers of the old one', async () => {
    await store.add('reborn', entries('old.example', 'older.example'), { action: 'review' });
    await store.add('reborn', entries('old2.example'));
    const old = (await store.summary('reborn'))!;
    await store.delete('reborn');
    expect(await store.add('reborn', entries('new.example'))).toMatchObject({ version: 3, added: 1 });
    expect(await store.summary('reborn')).toMatchObject({ version: 3, size: 1, action: 'block' });
    expect([...(await store.load('reborn'))!.domains.keys()]).toEqual(['new.example']);
    expect(await store.changesSince('reborn', 2)).toMatchObject({ gap: false, version: 3, changes: [{ op: 'settings' }, { op: 'add', value: 'new.example' }] });

    // A reader holding the old list at version 2, which the new one is past: a gap (load it
    // whole), never the new list's records on the old entries; even when both were made in the
    // same millisecond (same creation time), by the versions' stamps.
    await store.add('reborn', entries('new2.example'));
    await store.add('reborn', entries('new3.example'));
    const held = { createdAt: old.createdAt ?? '', stamp: old.stamp };
    expect(await store.changesSince('reborn', old.version, held)).toMatchObject({ gap: true, version: 5 });
    await redis.hset(store.keys('reborn').meta, 'createdAt', held.createdAt);
    expect(await store.changesSince('reborn', old.version, held)).toMatchObject({ gap: true, version: 5 });
  });

  it('gives a list the role its name says: allow-* are allowlists, and a write asking otherwise is refused', async () => {
    await store.add('allow-cdn', entries('cdn.example'));
    await store.import('allow-feed', entries('partner.example'));
    expect(await store.summary('allow-cdn')).toMatchObject({ role: 'allow' });
    expect(await store.summary('allow-feed')).toMatchObject({ role: 'allow' });
    await expect(store.add('cdn', entries('cdn.example'), { role: 'allow' })).rejects.toThrow(ListRoleError);
    await expect(store.import('allow-feed', entries('evil.example'), { role: 'block' })).rejects.toThrow(ListRoleError);
    expect(await store.summary('cdn')).toBeUndefined();

    // A list stored before the name decided the role: an allow-* blocklist becomes the allowlist
    // its name says; an allowlist under another name is not turned into a blocklist by a write.
    await redis.hset(listKeys(prefix, 'allow-old').meta, 'version', 1, 'role', 'block', 'action', 'block');
    await redis.hset(listKeys(prefix, 'old-partners').meta, 'version', 1, 'role', 'allow', 'action', 'block');
    await store.add('allow-old', entries('partner.example'));
    expect(await store.summary('allow-old')).toMatchObject({ role: 'allow', version: 2 });
    await expect(store.add('old-partners', entries('partner.example'))).rejects.toThrow(/stored as an allowlist but not named allow-/);
    expect(await store.summary('old-partners')).toMatchObject({ role: 'allow', version: 1, size: 0 });
  });

  it('hot-reloads a changed list in a running replica within a second, swapping the matcher', async () => {
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      const before = replica.current();
      expect(before.matchTargets([targetOf('http://fresh.example/')]).matches).toEqual([]);
      const started = Date.now();
      const { version } = await store.add('hot', entries('fresh.example'));
      expect(await waitUntil(async () => replica.current().versions().hot === String(version), 1000, 10)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(replica.current().matchTargets([targetOf('http://www.fresh.example/')]).matches).toHaveLength(1);
      // The old matcher is untouched: a job that started on it sees one version throughout.
      expect(before.matchTargets([targetOf('http://fresh.example/')]).matches).toEqual([]);
    } finally {
      await replica.close();
    }
  });

  it('loads a large list in chunks without blocking the event loop for long', async () => {
    const count = 200_000;
    const big = Array.from({ length: count }, (_, i) => ({ kind: i % 2 ? 'domain' : 'expression', value: i % 2 ? `d${i}.example` : `e${i}.example/p/` }) as ListEntry);
    const bigStore = new ListStore(redis, { prefix }); // default batches of 5000
    await bigStore.import('big', big);
    // Counted in event-loop turns, not milliseconds (timings belong in benchmarks): a load that
    // yields after each HSCAN page lets other work run at least once per page.
    let turns = 0;
    let loading = true;
    const spin = () => {
      if (!loading) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const list = await bigStore.load('big');
    loading = false;
    expect(list!.size).toBe(count);
    expect(list!.expressions.has('e0.example/p/')).toBe(true);
    expect(turns).toBeGreaterThanOrEqual(count / 5000);
  });

  /**
   * Every command `redis` is sent from now on (method calls and script runs through `call`), with
   * the replies of HLEN: a store on the returned client is watched.
   */
  function watched(connection: Redis): { client: Redis; commands: Array<{ name: string; args: unknown[] }>; hlens: Map<string, number> } {
    const commands: Array<{ name: string; args: unknown[] }> = [];
    const hlens = new Map<string, number>();
    const client = new Proxy(connection, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        const method = (value as (...a: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          if (property === 'call') commands.push({ name: String(args[0]), args: args[1] as unknown[] });
          else commands.push({ name: property, args });
          const result = method(...args);
          if (property === 'hlen') void (result as Promise<number>).then((n) => hlens.set(String(args[0]), n));
          return result;
        };
      },
    });
    return { client, commands, hlens };
  }

  it('an import into a large list stages and commits only its change: no copy of the list, a commit as small as the change', async () => {
    const count = 200_000;
    const keys = listKeys(prefix, 'large');
    try {
      const bigStore = new ListStore(redis, { prefix });
      await bigStore.import('large', Array.from({ length: count }, (_, i) => ({ kind: 'domain', value: `l${i}.example` }) as ListEntry));
      const { published, close } = await listen();
      try {
        const { client, commands, hlens } = watched(redis);
        const spied = new ListStore(client, { prefix });
        const before = (await spied.summary('large'))!;
        commands.length = 0;
        const change = await spied.import('large', [{ ...canonicalEntry('new.example'), label: 'kit' }, { ...canonicalEntry('l7.example'), label: 'relabelled' }, canonicalEntry('l8.example')]);
        expect(change).toEqual({ version: before.version + 1, added: 1, updated: 1, unchanged: 1, removed: 0 });
        // No COPY, no page-by-page copy (HSCAN), nothing but the staging batch, the change's size and the commit.
        expect(commands.map((c) => c.name).filter((name) => !['evalsha', 'eval', 'hlen', 'hmget', 'hget'].includes(name))).toEqual([]);
        const scripts = commands.filter((c) => c.name === 'evalsha' || c.name === 'eval');
        expect(scripts).toHaveLength(2); // one staging batch, one commit
        for (const script of scripts) expect(script.args.length).toBeLessThan(20);
        // What the commit applied: the change (2 entries), not the list.
        const staged = [...hlens].filter(([key]) => key.startsWith(keys.stagingPrefix));
        expect(staged).toEqual([[expect.stringContaining(keys.stagingPrefix), 2]]);
        expect(await redis.keys(`${keys.stagingPrefix}*`)).toEqual([]);
        expect(await redis.pttl(keys.entries)).toBe(-1);
        expect(await redis.hlen(keys.entries)).toBe(count + 1);
        // Logged entry by entry, one version: replicas apply it without reloading the list.
        const since = await spied.changesSince('large', before.version);
        expect(since).toMatchObject({ gap: false, version: before.version + 1 });
        expect(since.gap ? [] : since.changes.map((record) => [record.op, 'value' in record && record.value])).toEqual([
          ['add', 'new.example'],
          ['add', 'l7.example'],
        ]);
        await waitUntil(async () => published.includes(`large ${before.version + 1}`), 1000, 10);
        expect(published.filter((m) => m.startsWith('large '))).toEqual([`large ${before.version + 1}`]);

        // A removal larger than a batch, likewise.
        const removing = new ListStore(client, { prefix, batchSize: 2 });
        commands.length = 0;
        expect(await removing.remove('large', entries('l1.example', 'l2.example', 'l3.example', 'never.example'))).toMatchObject({ version: before.version + 2, removed: 3 });
        expect(commands.map((c) => c.name).filter((name) => !['evalsha', 'eval', 'hlen', 'hmget', 'hget'].includes(name))).toEqual([]);
        for (const script of commands.filter((c) => c.name === 'evalsha')) expect(script.args.length).toBeLessThan(20);
        expect(await redis.hlen(keys.entries)).toBe(count - 2);
      } finally {
        await close();
      }
    } finally {
      await redis.unlink(keys.entries, keys.meta, keys.log);
    }
  });

  it('a change larger than maxCommittedChange is applied to a copy made page by page and renamed: one version, logged as reload', async () => {
    const { published, close } = await listen();
    try {
      const small = new ListStore(redis, { prefix, batchSize: 7, maxCommittedChange: 10 });
      const base = Array.from({ length: 30 }, (_, i) => canonicalEntry(`base${i}.example`));
      await small.import('copied', base, { action: 'review' });
      const more = Array.from({ length: 25 }, (_, i) => ({ ...canonicalEntry(`more${i}.example`), label: 'm' }));
      const relabelled = base.slice(0, 5).map((entry) => ({ ...entry, label: 'r' }));
      expect(await small.import('copied', [...more, ...relabelled, ...base.slice(5, 8)])).toEqual({ version: 2, added: 25, updated: 5, unchanged: 3, removed: 0 });
      expect(await small.remove('copied', [...more.slice(0, 20), ...base.slice(20)])).toEqual({ version: 3, added: 0, updated: 0, unchanged: 0, removed: 30 });
      const keys = small.keys('copied');
      expect(await redis.keys(`${keys.stagingPrefix}*`)).toEqual([]);
      expect(await redis.pttl(keys.entries)).toBe(-1);
      const loaded = (await small.load('copied'))!;
      expect(loaded.size).toBe(25);
      expect([...loaded.domains.keys()].sort()).toEqual([...base.slice(0, 20), ...more.slice(20)].map((e) => e.value).sort());
      expect(loaded.domains.get('base0.example')).toMatch(/"label":"r"/);
      const log = await redis.xrange(keys.log, '2-0', '+');
      expect(log.map(([, fields]) => fields[1])).toEqual(['reload', 'reload']);
      await waitUntil(async () => published.filter((m) => m.startsWith('copied ')).length >= 3, 1000, 10);
      expect(published.filter((m) => m.startsWith('copied '))).toEqual(['copied 1', 'copied 2', 'copied 3']);
    } finally {
      await close();
    }
  });

  it('catches up through the periodic version check when a message is missed', async () => {
    const replica = await ListReplica.start({ store: new ListStore(redis, { prefix }), checkIntervalMs: 100 });
    try {
      // Written behind the replica's back: bump the version without publishing.
      const keys = store.keys('hot');
      await redis.hset(keys.entries, 'd:quiet.example', `2026-01-01T00:00:00.000Z {}`);
      await redis.hincrby(keys.meta, 'version', 1);
      expect(await waitUntil(async () => replica.current().matchTargets([targetOf('http://quiet.example/')]).matches.length === 1, 2000, 20)).toBe(true);
    } finally {
      await replica.close();
    }
  });
});
