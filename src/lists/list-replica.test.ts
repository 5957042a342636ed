/**
 * ListReplica's handling of lists that cannot be loaded, against a store stand-in: each list loads
 * on its own, a list without a copy is named by unavailable(), and a copy held is never dropped
 * because a reload failed. (Against real Redis: test/integration/list-unavailable.test.ts.)
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { targetOf } from '../../test/harness/link-targets.js';
import { createLogger } from '../runtime/logger.js';
import { canonicalEntry } from './list-entry.js';
import { compileList, type CompiledList } from './list-matcher.js';
import { ListReplica } from './list-replica.js';
import type { ListIdentity, ListStore } from './list-store.js';

interface FakeList {
  version: number;
  createdAt: string;
  entries: string[];
  /** Set: every load of the list throws it (an unreadable entry field, a key of the wrong type). */
  broken?: Error;
}

/** The part of ListStore a replica uses; no changelog (every change is a full load). */
class FakeStore {
  readonly lists = new Map<string, FakeList>();
  loads: string[] = [];
  namesError: Error | undefined;
  /** Holds every load until released (to see requests pile up). */
  gate: Promise<void> | undefined;
  readonly channel = 'changes';
  readonly redis = {
    duplicate: () => Object.assign(new EventEmitter(), { subscribe: async () => 1, disconnect: () => undefined }),
  };

  async names(): Promise<string[]> {
    if (this.namesError) throw this.namesError;
    return [...this.lists.keys()].sort();
  }

  async identity(name: string): Promise<ListIdentity | undefined> {
    const list = this.lists.get(name);
    return list && { version: list.version, createdAt: list.createdAt, stamp: '' };
  }

  async changesSince(_name: string, version: number): Promise<{ gap: true; version: number }> {
    return { gap: true, version };
  }

  async loadWithIdentity(name: string): Promise<{ list: CompiledList; identity: ListIdentity } | undefined> {
    this.loads.push(name);
    await this.gate;
    const list = this.lists.get(name);
    if (list === undefined) return undefined;
    if (list.broken) throw list.broken;
    const compiled = compileList({ name, version: String(list.version), role: 'block', action: 'block' }, list.entries.map((entry) => canonicalEntry(entry)));
    return { list: compiled, identity: { version: list.version, createdAt: list.createdAt, stamp: '' } };
  }
}

function setUp() {
  const store = new FakeStore();
  const lines: Array<{ level: number; msg: string; list?: string; err?: { message: string } }> = [];
  const logger = createLogger('info', 'list-replica-test', { write: (line: string) => void lines.push(JSON.parse(line)) });
  const start = () => ListReplica.start({ store: store as unknown as ListStore, checkIntervalMs: 60_000, logger });
  const warnings = () => lines.filter((line) => line.level === 40).map((line) => [line.list, line.msg, line.err?.message]);
  return { store, start, warnings };
}

const blocks = (replica: ListReplica, url: string) => replica.current().matchTargets([targetOf(url)]).matches.map((match) => match.list);
const unreadable = () => new Error('not a list entry field: z:bogus');

describe('ListReplica with a list that cannot be loaded', () => {
  it('starts with the others loaded, names the unreadable list unavailable and logs it by name', async () => {
    const { store, start, warnings } = setUp();
    store.lists.set('phish', { version: 1, createdAt: 'a', entries: ['evil.example'] });
    store.lists.set('corrupt', { version: 1, createdAt: 'a', entries: ['bad.example'], broken: unreadable() });
    const replica = await start();
    try {
      expect(blocks(replica, 'http://evil.example/')).toEqual(['phish']);
      expect(replica.unavailable()).toEqual(['corrupt']);
      expect(warnings()).toEqual([['corrupt', expect.stringMatching(/^list load failed: no copy held/), 'not a list entry field: z:bogus']]);

      // Repaired: the next check loads it.
      delete store.lists.get('corrupt')!.broken;
      await replica.refresh();
      expect(replica.unavailable()).toEqual([]);
      expect(blocks(replica, 'http://bad.example/')).toEqual(['corrupt']);
    } finally {
      await replica.close();
    }
  });

  it('keeps matching with the copy held when a reload of it fails, and is not unavailable', async () => {
    const { store, start, warnings } = setUp();
    store.lists.set('phish', { version: 1, createdAt: 'a', entries: ['evil.example'] });
    const replica = await start();
    try {
      Object.assign(store.lists.get('phish')!, { version: 2, entries: ['evil.example', 'worse.example'], broken: unreadable() });
      await replica.refresh();
      expect(blocks(replica, 'http://evil.example/')).toEqual(['phish']);
      expect(replica.current().versions()).toEqual({ phish: '1' });
      expect(replica.unavailable()).toEqual([]);
      expect(warnings()).toEqual([['phish', expect.stringMatching(/^list reload failed: matching goes on with the copy held/), 'not a list entry field: z:bogus']]);

      delete store.lists.get('phish')!.broken;
      await replica.refresh();
      expect(replica.current().versions()).toEqual({ phish: '2' });
      expect(blocks(replica, 'http://worse.example/')).toEqual(['phish']);
    } finally {
      await replica.close();
    }
  });

  it('names a list made again whose new one cannot be loaded unavailable (the deleted one is dropped)', async () => {
    const { store, start } = setUp();
    store.lists.set('phish', { version: 3, createdAt: 'a', entries: ['evil.example'] });
    const replica = await start();
    try {
      store.lists.set('phish', { version: 4, createdAt: 'b', entries: ['evil.example'], broken: unreadable() });
      await replica.refresh();
      expect(blocks(replica, 'http://evil.example/')).toEqual([]);
      expect(replica.unavailable()).toEqual(['phish']);
    } finally {
      await replica.close();
    }
  });

  it('forgets an unavailable list once it is deleted', async () => {
    const { store, start } = setUp();
    store.lists.set('corrupt', { version: 1, createdAt: 'a', entries: [], broken: unreadable() });
    const replica = await start();
    try {
      expect(replica.unavailable()).toEqual(['corrupt']);
      store.lists.delete('corrupt');
      await replica.refresh();
      expect(replica.unavailable()).toEqual([]);
    } finally {
      await replica.close();
    }
  });

  it('fails to start only when the names cannot be read', async () => {
    const { store, start } = setUp();
    store.namesError = new Error('connection refused');
    await expect(start()).rejects.toThrow('connection refused');
  });

  it('queues at most one more load of a list while one runs, however many requests arrive', async () => {
    const { store, start } = setUp();
    store.lists.set('corrupt', { version: 1, createdAt: 'a', entries: [], broken: unreadable() });
    const replica = await start();
    try {
      store.loads = [];
      let release!: () => void;
      store.gate = new Promise((resolve) => (release = resolve));
      const requests = [replica.reload('corrupt').catch(() => 'failed')];
      await new Promise((resolve) => setTimeout(resolve, 10)); // the first load is under way
      requests.push(...Array.from({ length: 20 }, () => replica.reload('corrupt').catch(() => 'failed')));
      release();
      expect(new Set(await Promise.all(requests))).toEqual(new Set(['failed']));
      expect(store.loads).toEqual(['corrupt', 'corrupt']);
    } finally {
      await replica.close();
    }
  });
});
