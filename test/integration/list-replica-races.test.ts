/**
 * List replicas under production races, against real Redis: a list deleted (ListStore.delete, or
 * by hand) and re-created under the same name (the deleted one dropped before the new one loads),
 * a large list that keeps changing while other lists change too, and Redis going away under a
 * running replica.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, type ListEntry } from '../../src/lists/list-entry.js';
import { listKeys, listNamesKey } from '../../src/lists/list-keys.js';
import { ListReplica } from '../../src/lists/list-replica.js';
import { ListStore } from '../../src/lists/list-store.js';
import { createLogger } from '../../src/runtime/logger.js';
import { waitUntil } from '../harness/fleet.js';
import { targetOf } from '../harness/link-targets.js';
import { suiteRedis } from '../harness/redis.js';
import { redisProxy } from '../harness/redis-proxy.js';

const entries = (...texts: string[]): ListEntry[] => texts.map((text) => canonicalEntry(text));
const matches = (replica: ListReplica, url: string) => replica.current().matchTargets([targetOf(url)]).matches.length;

describe('list replicas under races (real Redis)', () => {
  const { prefix, redis } = suiteRedis('list-races');
  const store = new ListStore(redis, { prefix });
  /** A writer heard by no one: its changes reach replicas only through their version check. */
  class UnheardStore extends ListStore {
    override get channel(): string {
      return `${prefix}:nobody-listens`;
    }
  }

  it('a list deleted and re-created under the same name is reloaded, though its version number is the same again', async () => {
    await store.add('reborn', entries('old.example'));
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      expect(matches(replica, 'http://old.example/')).toBe(1);
      // Deleted by hand, as an operator's DEL would (no announcement, the log left behind), then made again: version 1 again.
      const keys = listKeys(prefix, 'reborn');
      await redis.del(keys.meta, keys.entries);
      await redis.srem(listNamesKey(prefix), 'reborn');
      expect(await store.add('reborn', entries('new.example'))).toMatchObject({ version: 1 });
      expect(await waitUntil(async () => matches(replica, 'http://new.example/') === 1, 1000, 10)).toBe(true);
      expect(matches(replica, 'http://old.example/')).toBe(0);

      // The same through the periodic check, when the messages were missed: a writer heard by no one.
      await replica.close();
      const checking = await ListReplica.start({ store, checkIntervalMs: 100 });
      try {
        await redis.del(keys.meta, keys.entries);
        await redis.srem(listNamesKey(prefix), 'reborn');
        await new Promise((resolve) => setTimeout(resolve, 5)); // another creation time than the last one
        expect(await new UnheardStore(redis, { prefix }).add('reborn', entries('third.example'))).toMatchObject({ version: 1 });
        expect(await waitUntil(async () => matches(checking, 'http://third.example/') === 1, 2000, 20)).toBe(true);
      } finally {
        await checking.close();
      }
    } finally {
      await replica.close();
    }
  });

  /** A store whose full loads wait while `gate` is set: a load held open as long as a test needs. */
  class GatedStore extends ListStore {
    gate: Promise<void> | undefined;
    override async loadWithIdentity(name: string) {
      if (this.gate) await this.gate;
      return super.loadWithIdentity(name);
    }
  }
  const gate = () => {
    let open!: () => void;
    const closed = new Promise<void>((resolve) => (open = resolve));
    return { closed, open };
  };

  it('a list deleted and made again (messages missed) stops matching at once, not once the new one has loaded; a replaced list matches until its reload is in', async () => {
    await store.add('gated', entries('old.example'));
    const reader = new GatedStore(redis, { prefix });
    const replica = await ListReplica.start({ store: reader, checkIntervalMs: 60_000 });
    const unheard = new UnheardStore(redis, { prefix });
    let held = gate();
    const seen = () => ({ old: matches(replica, 'http://old.example/'), new: matches(replica, 'http://new.example/'), newer: matches(replica, 'http://newer.example/'), version: replica.current().versions().gated });
    try {
      // Settled: the check the subscriber's connection started is done (reloads of a list run in order).
      await replica.refresh();
      expect(seen()).toEqual({ old: 1, new: 0, newer: 0, version: '1' });
      await unheard.delete('gated');
      await new Promise((resolve) => setTimeout(resolve, 5)); // another creation time than the deleted one's
      await unheard.add('gated', entries('new.example'));

      held = gate();
      reader.gate = held.closed;
      let done = false;
      let refreshing = replica.refresh().then(() => (done = true));
      expect(await waitUntil(async () => seen().old === 0, 2000, 5)).toBe(true);
      expect({ done, ...seen() }).toEqual({ done: false, old: 0, new: 0, newer: 0, version: undefined });
      held.open();
      await refreshing;
      // Made again past the deleted list's last version (1).
      expect(seen()).toEqual({ old: 0, new: 1, newer: 0, version: '2' });

      // The same list replaced (a `reload` record: loaded whole): the loaded one goes on matching meanwhile.
      await unheard.import('gated', entries('newer.example'), { replace: true });
      held = gate();
      reader.gate = held.closed;
      done = false;
      refreshing = replica.refresh().then(() => (done = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect({ done, ...seen() }).toEqual({ done: false, old: 0, new: 1, newer: 0, version: '2' });
      held.open();
      await refreshing;
      expect(seen()).toEqual({ old: 0, new: 0, newer: 1, version: '3' });
    } finally {
      held.open();
      await replica.close();
    }
  });

  it('a running replica drops a deleted list within a second (no match, no version in verdicts), and loads one made again fresh', async () => {
    await store.add('retired', entries('old.example', 'older.example/kit/'));
    await store.add('kept', entries('kept.example'));
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      expect(replica.current().versions()).toMatchObject({ retired: '1', kept: '1' });
      const started = Date.now();
      expect(await store.delete('retired')).toEqual({ name: 'retired', version: 1, entries: 2 });
      expect(await waitUntil(async () => !('retired' in replica.current().versions()), 1000, 10)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(matches(replica, 'http://old.example/')).toBe(0);
      expect(matches(replica, 'http://kept.example/')).toBe(1);

      // Made again with other entries: nothing of the deleted list comes back with it.
      await store.add('retired', entries('new.example'));
      expect(await waitUntil(async () => matches(replica, 'http://new.example/') === 1, 1000, 10)).toBe(true);
      // Past the deleted list's last version (1): no verdict names one version for both.
      expect({ old: matches(replica, 'http://old.example/'), kit: matches(replica, 'http://older.example/kit/'), version: replica.current().versions().retired }).toEqual({ old: 0, kit: 0, version: '2' });
    } finally {
      await replica.close();
    }
  });

  it('a replica that missed a deletion and the new list\'s changes loads the new list whole, never its changelog on the old entries', async () => {
    await store.add('missed', entries('old-a.example'));
    await store.add('missed', entries('old-b.example'));
    const old = (await store.summary('missed'))!;
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    const unheard = new UnheardStore(redis, { prefix });
    try {
      expect(matches(replica, 'http://old-a.example/')).toBe(1);
      await unheard.delete('missed');
      // Past the replica's version 2, and made in the same millisecond as the old one as far as
      // the creation time tells: only the versions' stamps tell the two apart.
      for (const host of ['new-a', 'new-b', 'new-c']) await unheard.add('missed', entries(`${host}.example`));
      await redis.hset(listKeys(prefix, 'missed').meta, 'createdAt', old.createdAt ?? '');
      await replica.refresh();
      const seen = Object.fromEntries(['old-a', 'old-b', 'new-a', 'new-b', 'new-c'].map((host) => [host, matches(replica, `http://${host}.example/`)]));
      expect({ seen, version: replica.current().versions().missed }).toEqual({ seen: { 'old-a': 0, 'old-b': 0, 'new-a': 1, 'new-b': 1, 'new-c': 1 }, version: '5' });

      // Deleted and not made again: the check finds it gone.
      await unheard.delete('missed');
      await replica.refresh();
      expect(replica.current().versions()).not.toHaveProperty('missed');
    } finally {
      await replica.close();
    }
  });

  it('a large list that keeps changing does not hold back the changes of other lists', async () => {
    const big = Array.from({ length: 100_000 }, (_, i) => ({ kind: 'domain', value: `d${i}.example` }) as ListEntry);
    await store.import('hot', big);
    await store.add('quiet', entries('quiet-old.example'));
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    let writing = true;
    // A feed adding to the large list faster than a worker can load it.
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await store.add('hot', entries(`feed${i}.example`));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await store.add('quiet', entries('quiet-new.example'));
      expect(await waitUntil(async () => matches(replica, 'http://quiet-new.example/') === 1, 1500, 10)).toBe(true);
    } finally {
      writing = false;
      await writer;
      await replica.close();
    }
  });

  it('Redis going away: the subscriber\'s outage is logged once, however many reconnects fail, and its return once', async () => {
    const proxy = await redisProxy();
    const connection = new Redis(proxy.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    connection.on('error', () => undefined);
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = createLogger('info', 'list-replica-test', { write: (line: string) => void lines.push(JSON.parse(line)) });
    const replica = await ListReplica.start({ store: new ListStore(connection, { prefix }), checkIntervalMs: 60_000, logger });
    const subscriberLines = () => lines.filter((line) => line.msg.startsWith('list subscriber')).map((line) => [line.level, line.msg]);
    const lost = [40, 'list subscriber lost Redis: matching goes on with the lists loaded; changes arrive once it is back'];
    const back = [30, 'list subscriber reconnected: catching up'];
    try {
      for (let outage = 1; outage <= 2; outage++) {
        proxy.down();
        await new Promise((resolve) => setTimeout(resolve, 1500)); // a reconnect refused every 50 ms
        await proxy.up();
        expect(await waitUntil(async () => subscriberLines().length === 2 * outage, 3000, 20)).toBe(true);
      }
      expect(subscriberLines()).toEqual([lost, back, lost, back]);
    } finally {
      await replica.close();
      connection.disconnect();
      await proxy.close();
    }
  });

  it('Redis going away: matching goes on with the last lists, changes made meanwhile arrive once it is back, and close() does not wait for it', async () => {
    await store.add('outage', entries('before.example'));
    const proxy = await redisProxy();
    const connection = new Redis(proxy.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    connection.on('error', () => undefined);
    const replica = await ListReplica.start({ store: new ListStore(connection, { prefix }), checkIntervalMs: 60_000 });
    try {
      proxy.down();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(matches(replica, 'http://before.example/')).toBe(1);
      await store.add('outage', entries('during.example')); // straight to Redis: the replica cannot hear of it
      await proxy.up();
      expect(await waitUntil(async () => matches(replica, 'http://during.example/') === 1, 3000, 20)).toBe(true);
      // Subscribed again after the reconnect (by the replica: see subscriberConnection): a change
      // made now arrives by its message, long before the next version check (60 s).
      await store.add('outage', entries('after.example'));
      expect(await waitUntil(async () => matches(replica, 'http://after.example/') === 1, 3000, 20)).toBe(true);

      // A version check under way when Redis goes away waits for it; close must not.
      proxy.down();
      void replica.refresh().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closed = await Promise.race([replica.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 2000, 'still closing'))]);
      expect(closed).toBe('closed');
    } finally {
      await replica.close();
      connection.disconnect();
      await proxy.close();
    }
  });
});
