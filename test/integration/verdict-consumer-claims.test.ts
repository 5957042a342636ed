import { describe, expect, it } from 'vitest';
import { createVerdictConsumer, type VerdictConsumer } from '../../src/verdicts/verdict-consumer.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { suiteRedis } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("the verdict consumer's claim pass and live consumers", () => {
  const { prefix, redis } = suiteRedis('consumer-claims');

  /** Two consumers of group `g`: A reads all `count` verdicts in one batch, B starts once A has them. */
  async function twoConsumers(streamPrefix: string, count: number, handle: (name: string, jobId: string) => Promise<void>) {
    const store = new VerdictStore(redis, { prefix: streamPrefix, retentionSeconds: 60, streamMaxLength: 10_000 });
    const calls: Array<{ consumer: string; jobId: string; redelivered: boolean }> = [];
    const make = (name: string): VerdictConsumer =>
      createVerdictConsumer({
        connection: redis, prefix: streamPrefix, group: 'g', consumer: name, batchSize: count, blockMs: 100, claimIdleMs: 600,
        handler: async (verdict, delivery) => {
          calls.push({ consumer: name, jobId: verdict.jobId, redelivered: delivery.redelivered });
          await handle(name, verdict.jobId);
        },
      });
    const a = make('A');
    const b = make('B');
    await a.start();
    await store.storeAll(Array.from({ length: count }, (_, i) => sampleVerdict(`job-${i}`)));
    await waitUntil(async () => calls.length > 0, 2000, 10);
    await b.start();
    return { a, b, calls };
  }

  it('leaves the entries a live consumer read in a batch and has not reached yet to it: each verdict is handled once', async () => {
    const streamPrefix = `${prefix}:live`;
    // A works through 20 entries for 2 s, over three times claimIdleMs, while B's claim passes run every 300 ms.
    const { a, b, calls } = await twoConsumers(streamPrefix, 20, () => sleep(100));
    const done = await waitUntil(async () => (await redis.xpending(`${streamPrefix}:verdicts`, 'g'))[0] === 0 && calls.length >= 20, 6000, 50);
    await sleep(700); // a claim pass or two more: nothing left to take over
    await Promise.all([a.close(), b.close()]);
    expect(done).toBe(true);
    // Before: B took over (and handled again) every entry A had not reached after 600 ms: 29 calls for 20.
    expect(calls).toHaveLength(20);
    expect(calls.every((call) => call.consumer === 'A' && !call.redelivered)).toBe(true);
  });

  it("takes over the rest of a stuck consumer's batch, which that consumer then skips", async () => {
    const streamPrefix = `${prefix}:stuck`;
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    // A's handler hangs on the first verdict (longer than claimIdleMs): A counts as stuck.
    const { a, b, calls } = await twoConsumers(streamPrefix, 10, (name, jobId) => (name === 'A' && jobId === 'job-0' ? stuck : Promise.resolve()));
    const takenOver = await waitUntil(async () => calls.filter((call) => call.consumer === 'B').length >= 10, 4000, 20);
    release();
    await waitUntil(async () => (await redis.xpending(`${streamPrefix}:verdicts`, 'g'))[0] === 0, 2000, 20);
    await sleep(200);
    await Promise.all([a.close(), b.close()]);
    expect(takenOver).toBe(true);
    // B redelivers all ten (job-0 included: A's handler was stuck on it past claimIdleMs); A, back, handles none of the rest.
    expect(calls.filter((call) => call.consumer === 'B').map((call) => call.jobId).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `job-${i}`).sort());
    expect(calls.filter((call) => call.consumer === 'A').map((call) => call.jobId)).toEqual(['job-0']);
  });
});
