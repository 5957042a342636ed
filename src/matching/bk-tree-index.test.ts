/**
 * A BK-tree keeps a dead routing node per removal; an exact-match set whose entries keep changing
 * (replaced one by one, entry numbers never reused) must not grow without bound. Once dead nodes
 * outnumber live ones the tree compacts itself, in slices off the event loop, exactly throughout.
 */
import { describe, expect, it } from 'vitest';
import { nearHash, seededHashes } from '../../test/harness/seeded-random.js';
import { BkTreeIndex } from './bk-tree-index.js';
import { createIndex } from './choose-index.js';
import { LinearIndex } from './linear-index.js';

/** An exact-match set's index (threshold 0, 1,000 entries: what EntryIndex creates) and the linear reference. */
function exactMatchSet(live: number, seed: number): { tree: BkTreeIndex; linear: LinearIndex; stored: Uint8Array[] } {
  const index = createIndex(256, 0, live);
  expect(index).toBeInstanceOf(BkTreeIndex);
  const tree = index as BkTreeIndex;
  const linear = new LinearIndex(256);
  const stored = seededHashes(seed, live);
  stored.forEach((hash, id) => {
    tree.add(id, hash);
    linear.add(id, hash);
  });
  return { tree, linear, stored };
}

describe('BK-tree under churn', () => {
  it('an exact-match set whose entries are replaced one by one stays bounded, without a turn of the event loop', () => {
    const { tree, linear } = exactMatchSet(1000, 1);
    const fresh = seededHashes(2, 20_000);
    let maxNodes = 0;
    // 20,000 replace-one changes (remove the oldest, add a new entry number), applied in one go as a
    // replica applies a changelog batch: the tree never gets a slice of the event loop.
    for (let i = 0; i < fresh.length; i++) {
      tree.remove(i);
      linear.remove(i);
      tree.add(1000 + i, fresh[i]!);
      linear.add(1000 + i, fresh[i]!);
      maxNodes = Math.max(maxNodes, tree.nodes);
      if (i % 997 === 0) {
        for (const query of [fresh[i]!, fresh[Math.max(0, i - 500)]!, nearHash(fresh[i]!, 1)]) expect(tree.query(query, 0)).toEqual(linear.query(query, 0));
      }
    }
    expect(tree.size).toBe(1000);
    // Before: one node per entry ever added (21,000). Now: about 2.5x the live entries plus 1,024.
    expect(maxNodes).toBeLessThan(2.6 * 1000 + 1024);
    for (let i = 19_000; i < 20_000; i += 13) expect(tree.query(fresh[i]!, 0)).toEqual([{ entryId: 1000 + i, distance: 0 }]);
    expect(tree.query(fresh[5]!, 0)).toEqual([]); // replaced long ago
  });

  it('answers exactly while a compaction is under way and changes land in between, and ends with live nodes only', () => {
    // Driven step by step ('manual'), so every change below lands inside the compaction whatever
    // the machine's speed; the background slices are the same steps (runInSlices).
    const tree = new BkTreeIndex(256, 30_000, { compactionScheduling: 'manual' });
    const linear = new LinearIndex(256);
    const stored = seededHashes(3, 30_000);
    stored.forEach((hash, id) => {
      tree.add(id, hash);
      linear.add(id, hash);
    });
    // Every other entry goes, then a few more: dead nodes now outnumber live ones.
    for (let id = 0; id < 30_000; id += 2) {
      tree.remove(id);
      linear.remove(id);
    }
    expect(tree.rebuilding).toBe(false);
    for (let id = 1; id < 1200; id += 2) {
      tree.remove(id);
      linear.remove(id);
    }
    expect(tree.rebuilding).toBe(true); // started by a removal
    const more = seededHashes(4, 2000);
    let steps = 0;
    while (!tree.advanceRebuild(500)) {
      steps++;
      expect(tree.rebuilding).toBe(true);
      const id = 30_000 + steps;
      const hash = more[steps % more.length]!;
      tree.add(id, hash);
      linear.add(id, hash);
      tree.remove(1199 + 2 * steps);
      linear.remove(1199 + 2 * steps);
      // Re-adding a removed entry's own hash under a new number revives its dead node.
      tree.add(100_000 + steps, stored[2 * steps]!);
      linear.add(100_000 + steps, stored[2 * steps]!);
      for (const query of [stored[2 * steps]!, stored[1201 + 2 * steps]!, hash, nearHash(hash, 2)]) {
        expect(tree.query(query, 0)).toEqual(linear.query(query, 0));
        expect(tree.query(query, 3)).toEqual(linear.query(query, 3));
      }
    }
    expect(steps).toBeGreaterThan(10); // ~30k old nodes, 500 per step
    tree.compact(); // the removals made during it
    expect(tree.size).toBe(linear.size);
    expect(tree.nodes).toBe(tree.size);
    for (let q = 0; q < 300; q++) {
      const query = q % 2 ? stored[q * 97]! : nearHash(stored[q * 97]!, q % 4);
      expect(tree.query(query, q % 3)).toEqual(linear.query(query, q % 3));
    }
  });

  it('a compaction a removal starts runs by itself between turns of the event loop', async () => {
    const { tree, linear } = exactMatchSet(30_000, 6);
    for (let id = 0; id < 30_000 && !tree.rebuilding; id++) {
      tree.remove(id);
      linear.remove(id);
    }
    expect(tree.rebuilding).toBe(true);
    await tree.compactInBackground();
    expect({ rebuilding: tree.rebuilding, size: tree.size }).toEqual({ rebuilding: false, size: linear.size });
  });

  it('compactInBackground after a load without removals does nothing, and compact() finishes one under way', async () => {
    const { tree, linear, stored } = exactMatchSet(2000, 5);
    await tree.compactInBackground();
    expect(tree.nodes).toBe(2000);
    const manual = new BkTreeIndex(256, 0, { compactionScheduling: 'manual', minDeadBeforeCompact: 10 });
    stored.forEach((hash, id) => manual.add(id, hash));
    // The 1,001st removal makes dead nodes outnumber live ones: it starts a compaction, done by nothing yet.
    for (let id = 0; id <= 1000; id++) {
      expect(manual.rebuilding).toBe(false);
      manual.remove(id);
      linear.remove(id);
    }
    expect(manual.rebuilding).toBe(true);
    expect(manual.advanceRebuild(10)).toBe(false);
    manual.compact();
    expect(manual.rebuilding).toBe(false);
    expect(manual.nodes).toBe(999);
    for (let id = 0; id < 2000; id += 7) expect(manual.query(stored[id]!, 0)).toEqual(linear.query(stored[id]!, 0));
  });
});

describe('BK-tree with many copies of one hash', () => {
  it('adds each copy in as many steps as the first copy took, and stays exact as they are removed and re-added', () => {
    const tree = new BkTreeIndex(256, 0, { compactionScheduling: 'manual' });
    const linear = new LinearIndex(256);
    const [shared] = seededHashes(7, 1);
    const others = seededHashes(8, 3_000);
    const copyIds: number[] = [];
    let firstCopyVisits = -1;
    let maxCopyVisits = 0;
    // 15,000 copies among 3,000 other hashes, as a set loaded with one image many times over.
    for (let id = 0; id < 18_000; id++) {
      const isCopy = id % 6 !== 0;
      const hash = isCopy ? shared! : others[id / 6]!;
      tree.add(id, hash);
      linear.add(id, hash);
      if (!isCopy) continue;
      copyIds.push(id);
      if (firstCopyVisits < 0) firstCopyVisits = tree.lastAddVisits;
      else maxCopyVisits = Math.max(maxCopyVisits, tree.lastAddVisits);
    }
    // Down to the first copy and no further (a chain walk: up to 15,000 visits per add).
    expect(maxCopyVisits).toBeLessThanOrEqual(firstCopyVisits + 1);
    expect(tree.query(shared!, 0)).toEqual(linear.query(shared!, 0));
    expect(tree.query(nearHash(shared!, 2), 3)).toEqual(linear.query(nearHash(shared!, 2), 3));
    // Remove most copies (a compaction starts and runs in between), then add copies back.
    for (const [n, id] of copyIds.entries()) {
      if (n % 10 === 0) continue;
      tree.remove(id);
      linear.remove(id);
      if (n % 1000 === 1) tree.advanceRebuild(2_000);
    }
    for (let id = 20_000; id < 22_000; id++) {
      tree.add(id, shared!);
      linear.add(id, shared!);
      expect(tree.lastAddVisits).toBeLessThanOrEqual(64);
    }
    for (const query of [shared!, nearHash(shared!, 1), others[5]!]) {
      expect(tree.query(query, 0)).toEqual(linear.query(query, 0));
      expect(tree.query(query, 2)).toEqual(linear.query(query, 2));
    }
    tree.compact();
    expect(tree.nodes).toBe(linear.size);
    expect(tree.query(shared!, 0)).toEqual(linear.query(shared!, 0));
  });
});
