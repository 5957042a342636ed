/**
 * ListStore.import of a ListEntrySource (the CLI's spooled list file): the entries are read batch
 * by batch as they are staged, never held whole, and the import is what the same entries as an
 * array make: one version, --replace semantics, counts; a source that fails leaves the list and
 * no staged keys; an import retried (the list moved on meanwhile) reads the source again.
 */
import { describe, expect, it } from 'vitest';
import { canonicalEntry, decodeEntryInfo, type ListEntry } from '../../src/lists/list-entry.js';
import { spoolListFile } from '../../src/lists/list-import.js';
import { ListStore, type ListEntrySource } from '../../src/lists/list-store.js';
import { suiteRedis } from '../harness/redis.js';

async function* bytes(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

async function entriesOf(store: ListStore, name: string): Promise<Record<string, string>> {
  const all: Record<string, string> = {};
  for await (const page of store.scanEntries(name)) for (const [field, info] of page) all[field] = decodeEntryInfo(info).label ?? '';
  return all;
}

describe('ListStore.import of a spooled list file', () => {
  const { prefix, redis } = suiteRedis('list-import-spooled');
  const store = new ListStore(redis, { prefix, batchSize: 3, maxCommittedChange: 4 });

  it('imports as the array of the same entries does, as one version, a repeated line once (its first)', async () => {
    const text = 'entry,label\na.example,first\nb.example,\nhttp://c.example/x,\nA.example,second\nd.example,\ne.example,\nf.example,\nhttps://c.example/x,\n';
    const spooled = await spoolListFile(bytes(text), 'csv');
    try {
      expect(await store.import('spooled', spooled)).toEqual({ version: 1, added: 6, updated: 0, unchanged: 0, removed: 0 });
      expect(spooled.duplicates).toBe(2);
      expect(await entriesOf(store, 'spooled')).toEqual({ 'd:a.example': 'first', 'd:b.example': '', 'u:http://c.example/x': '', 'd:d.example': '', 'd:e.example': '', 'd:f.example': '' });
      // Again, into the list now holding them (a change staged, not the whole list): unchanged.
      expect(await store.import('spooled', spooled)).toEqual({ version: 1, added: 0, updated: 0, unchanged: 6, removed: 0 });
    } finally {
      await spooled.close();
    }

    const replacement = await spoolListFile(bytes('b.example\ng.example\nh.example\ni.example\nj.example\nk.example\n'), 'txt');
    try {
      expect(await store.import('spooled', replacement, { replace: true })).toEqual({ version: 2, added: 5, updated: 0, unchanged: 1, removed: 5 });
      expect(Object.keys(await entriesOf(store, 'spooled')).sort()).toEqual(['d:b.example', 'd:g.example', 'd:h.example', 'd:i.example', 'd:j.example', 'd:k.example']);
    } finally {
      await replacement.close();
    }
    // A change larger than maxCommittedChange: applied to a copy of the list, still one version.
    const relabel = await spoolListFile(bytes('entry,label\ng.example,L\nh.example,L\ni.example,L\nj.example,L\nk.example,L\nl.example,L\n'), 'csv');
    try {
      expect(await store.import('spooled', relabel)).toEqual({ version: 3, added: 1, updated: 5, unchanged: 0, removed: 0 });
      expect(await entriesOf(store, 'spooled')).toEqual({ 'd:b.example': '', 'd:g.example': 'L', 'd:h.example': 'L', 'd:i.example': 'L', 'd:j.example': 'L', 'd:k.example': 'L', 'd:l.example': 'L' });
    } finally {
      await relabel.close();
    }
    expect(await redis.keys(`${prefix}:list:spooled:staging*`)).toEqual([]);
  });

  it('a source that fails part-way leaves the list as it was and nothing staged', async () => {
    await store.add('failing', [canonicalEntry('kept.example')]);
    const before = await store.summary('failing');
    const failing: ListEntrySource = {
      async *batches() {
        yield ['one.example', 'two.example', 'three.example', 'four.example'].map((text) => canonicalEntry(text));
        throw new Error('disk gone');
      },
    };
    await expect(store.import('failing', failing, { replace: true })).rejects.toThrow('disk gone');
    await expect(store.import('failing', failing)).rejects.toThrow('disk gone');
    expect(await store.summary('failing')).toEqual(before);
    expect(await redis.keys(`${prefix}:list:failing:staging*`)).toEqual([]);
  });

  it('an import the list moved on under is tried again, reading the source from its start', async () => {
    await store.add('moving', [canonicalEntry('old.example')]);
    let reads = 0;
    const source: ListEntrySource = {
      async *batches() {
        reads++;
        yield [canonicalEntry('new1.example'), canonicalEntry('new2.example')];
        // Another writer, during the first attempt only.
        if (reads === 1) await store.add('moving', [canonicalEntry('other.example')]);
        yield [canonicalEntry('new3.example')] satisfies ListEntry[];
      },
    };
    expect(await store.import('moving', source)).toEqual({ version: 3, added: 3, updated: 0, unchanged: 0, removed: 0 });
    expect(reads).toBe(2);
    expect(Object.keys(await entriesOf(store, 'moving')).sort()).toEqual(['d:new1.example', 'd:new2.example', 'd:new3.example', 'd:old.example', 'd:other.example']);
  });
});
