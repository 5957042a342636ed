/**
 * List replicas under production races, against real Redis: a list deleted and re-created under
 * the same name, a large list that keeps changing while other lists change too, and Redis going
 * away under a running replica.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, type ListEntry } from '../../src/lists/list-entry.js';
import { listKeys, listNamesKey } from '../../src/lists/list-keys.js';
import { ListReplica } from '../../src/lists/list-replica.js';
import { ListStore } from '../../src/lists/list-store.js';
import { waitUntil } from '../harness/fleet.js';
import { targetOf } from '../harness/link-targets.js';
import { suiteRedis } from '../harness/redis.js';
import { redisProxy } from '../harness/redis-proxy.js';

const entries = (...texts: string[]): ListEntry[] => texts.map((text) => canonicalEntry(text));
const matches = (replica: ListReplica, url: string) => replica.current().matchTargets([targetOf(url)]).matches.length;

describe('list replicas under races (real Redis)', () => {
  const { prefix, redis } = suiteRedis('list-races');
  const store = new ListStore(redis, { prefix });

  it('a list deleted and re-created under the same name is reloaded, though its version number is the same again', async () => {
    await store.add('reborn', entries('old.example'));
    const replica = await ListReplica.start({ store, checkIntervalMs: 60_000 });
    try {
      expect(matches(replica, 'http://old.example/')).toBe(1);
      // Deleted as an operator's DEL would (there is no CLI for it), then made again: version 1 again.
      const keys = listKeys(prefix, 'reborn');
      await redis.del(keys.meta, keys.entries);
      await redis.srem(listNamesKey(prefix), 'reborn');
      expect(await store.add('reborn', entries('new.example'))).toMatchObject({ version: 1 });
      expect(await waitUntil(async () => matches(replica, 'http://new.example/') === 1, 1000, 10)).toBe(true);
      expect(matches(replica, 'http://old.example/')).toBe(0);

      // The same through the periodic check, when the messages were missed: a writer heard by no one.
      await replica.close();
      const checking = await ListReplica.start({ store, checkIntervalMs: 100 });
      class UnheardStore extends ListStore {
        override get channel(): string {
          return `${prefix}:nobody-listens`;
        }
      }
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
