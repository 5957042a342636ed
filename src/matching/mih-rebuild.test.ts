/**
 * MIH rebuilds run off the query path: a query that finds too many pending changes starts one and
 * answers from the tables as they are (exactly); the build itself runs in slices between turns of
 * the event loop, and each rebuilt table is swapped in with the changes made meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { nearHash, seededHashes } from '../../test/harness/seeded-random.js';
import { LinearIndex } from './linear-index.js';
import { MihIndex } from './mih-index.js';

/** Longest gap between turns of a 1 ms interval while `work` runs, and whether it ever fired. */
async function loopGaps(work: () => Promise<void>): Promise<{ gapsMs: number[]; ticks: number }> {
  let last = performance.now();
  const gapsMs: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    gapsMs.push(now - last);
    last = now;
  }, 1);
  let ticks: number;
  try {
    last = performance.now();
    await work();
  } finally {
    clearInterval(timer);
    ticks = gapsMs.length;
  }
  gapsMs.push(performance.now() - last);
  return { gapsMs, ticks };
}

describe('MIH rebuilds off the query path', () => {
  it('a query that finds a rebuild due starts it and answers at once, exactly, without building', async () => {
    const stored = seededHashes(1, 24_000);
    const mih = new MihIndex(256, { designRadius: 31, expectedSize: 20_000 });
    const linear = new LinearIndex(256);
    stored.slice(0, 16_000).forEach((hash, id) => {
      mih.add(id, hash);
      linear.add(id, hash);
    });
    await mih.compactInBackground();
    expect(mih.rebuilding).toBe(false);
    // Past 1/8 of the compacted size: the next query would have compacted every table itself.
    stored.slice(16_000).forEach((hash, i) => {
      mih.add(16_000 + i, hash);
      linear.add(16_000 + i, hash);
    });
    for (let id = 0; id < 16_000; id += 7) {
      mih.remove(id);
      linear.remove(id);
    }
    const queries = [stored[3]!, nearHash(stored[100]!, 20), nearHash(stored[20_000]!, 30), ...seededHashes(2, 20)];
    for (const query of queries) {
      expect(mih.query(query, 31)).toEqual(linear.query(query, 31));
      expect(mih.rebuilding).toBe(true); // started, not run: the build is left to the event loop
    }
    // Changes keep landing while it runs; every answer stays exact, before and after the swap.
    const more = seededHashes(3, 400);
    let next = 24_000;
    while (mih.rebuilding) {
      await new Promise((resolve) => setImmediate(resolve));
      const hash = more[next % more.length]!;
      mih.add(next, hash);
      linear.add(next, hash);
      mih.remove(next - 24_000 + 1);
      linear.remove(next - 24_000 + 1);
      next++;
      const query = nearHash(stored[next % stored.length]!, next % 32);
      expect(mih.query(query, 31)).toEqual(linear.query(query, 31));
    }
    expect(next).toBeGreaterThan(24_001); // the build took several turns of the event loop
    for (const query of queries) expect(mih.query(query, 31)).toEqual(linear.query(query, 31));
    expect(mih.size).toBe(linear.size);
  });

  it('a set that outgrew its layout gets new tables (all swapped in at the end), exact throughout', () => {
    const stored = seededHashes(4, 12_000);
    const mih = new MihIndex(256, { expectedSize: 10, rebuildScheduling: 'manual' });
    const linear = new LinearIndex(256);
    const initialWidths = mih.substringWidths;
    stored.slice(0, 10_000).forEach((hash, id) => {
      mih.add(id, hash);
      linear.add(id, hash);
    });
    expect(mih.query(stored[5]!, 31)).toEqual(linear.query(stored[5]!, 31));
    expect(mih.rebuilding).toBe(true);
    let step = 0;
    while (!mih.advanceRebuild(20_000)) {
      const id = 10_000 + step;
      mih.add(id, stored[id]!);
      linear.add(id, stored[id]!);
      mih.remove(step * 3);
      linear.remove(step * 3);
      const query = nearHash(stored[(step * 131) % 10_000]!, step % 32);
      expect(mih.query(query, 31)).toEqual(linear.query(query, 31));
      step++;
    }
    expect(step).toBeGreaterThan(3);
    expect(mih.substringWidths).not.toEqual(initialWidths);
    for (let q = 0; q < 40; q++) {
      const query = nearHash(stored[q * 251]!, q % 32);
      expect(mih.query(query, 31)).toEqual(linear.query(query, 31));
    }
  });

  it('queries during a rebuild started by many pending adds find those adds by probing, not one by one', () => {
    const stored = seededHashes(6, 30_000);
    const mih = new MihIndex(256, { designRadius: 31, expectedSize: 20_000, rebuildScheduling: 'manual' });
    const linear = new LinearIndex(256);
    const addRange = (from: number, to: number) => {
      for (let id = from; id < to; id++) {
        mih.add(id, stored[id]!);
        linear.add(id, stored[id]!);
      }
    };
    addRange(0, 20_000);
    mih.compact();
    addRange(20_000, 30_000); // no query in between: all 10,000 unindexed, past 1/8 of 20,000
    for (let id = 20_000; id < 30_000; id += 11) {
      mih.remove(id);
      linear.remove(id);
    }
    const queries = [nearHash(stored[25_000]!, 12), nearHash(stored[3]!, 30), ...seededHashes(7, 10)];
    expect(mih.query(queries[0]!, 31)).toEqual(linear.query(queries[0]!, 31));
    expect(mih.rebuilding).toBe(true);
    // A query moves at most 4,096 of them into the tables' overflow (as with unindexed adds); the
    // rebuild's first slices move the rest. Not one query verifies them all for the whole rebuild.
    expect(mih.lastQueryOutright).toBeLessThan(10_000);
    let steps = 0;
    let outrightAfterDrain = 0;
    for (let round = 0; round < 4 || !mih.advanceRebuild(100_000); round++) {
      for (const query of round < 4 ? queries : queries.slice(0, 3)) {
        expect(mih.query(query, 31)).toEqual(linear.query(query, 31));
        if (round >= 3) outrightAfterDrain = Math.max(outrightAfterDrain, mih.lastQueryOutright);
      }
      if (round >= 3 && mih.rebuilding) steps++;
    }
    expect(steps).toBeGreaterThan(3); // the queries above did run while the rebuild was under way
    expect(outrightAfterDrain).toBe(0);
  });

  it('compactInBackground yields to the event loop: timers fire during the build', async () => {
    const mih = new MihIndex(256, { designRadius: 31, expectedSize: 60_000 });
    seededHashes(5, 50_000).forEach((hash, id) => mih.add(id, hash));
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const { gapsMs, ticks } = await loopGaps(async () => {
      const build = mih.compactInBackground();
      expect(mih.rebuilding).toBe(true);
      expect(fired).toBe(false);
      await build;
    });
    expect(fired).toBe(true);
    expect(mih.rebuilding).toBe(false);
    // Slices are ~8 ms, and a one-piece build here takes ~100 ms+. The median gap, not the
    // longest: on a loaded machine (test files run side by side) the scheduler alone can stall
    // this process for longer than a slice, once in a while.
    expect(ticks).toBeGreaterThan(3);
    const median = [...gapsMs].sort((a, b) => a - b)[Math.floor(gapsMs.length / 2)]!;
    expect(median).toBeLessThan(40);
  });
});
