/**
 * An attempt that lost its job's lock (its worker froze past the lock duration and the stalled
 * checker handed the job on) must not store its verdict: the run that holds the job now gives it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { sampleVerdict } from '../harness/verdicts.js';
import { startInProcessWorker, verdictJobIds } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';
import { html, startServer } from './unfurl-servers.js';

describe('a verdict from an attempt that no longer holds its job', () => {
  const prefix = uniquePrefix('stale-attempt');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('the store keeps a verdict only while the given lock holds the attempt token', async () => {
    const redis = testRedis();
    const store = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });
    const lock = (jobId: string) => ({ key: `${prefix}:links:${jobId}:lock`, token: `token-${jobId}` });
    await redis.set(lock('held').key, lock('held').token);
    await redis.set(lock('taken-over').key, 'another-worker-token');
    const outcomes = await store.storeAll(
      ['held', 'taken-over', 'expired', 'unlocked'].map((id) => sampleVerdict(id)),
      [lock('held'), lock('taken-over'), lock('expired'), undefined],
    );
    expect(outcomes).toEqual(['stored', 'stale', 'stale', 'stored']);
    expect(await verdictJobIds(prefix)).toEqual(['held', 'unlocked']);
    expect(await redis.exists(store.keys.verdict('taken-over'), store.keys.verdict('expired'))).toBe(0);
    await redis.quit();
  });

  it('a worker whose job was taken over mid-scan drops its verdict; the run that took it over stores the one verdict', async () => {
    const jobPrefix = uniquePrefix('stale-attempt-run');
    let requests = 0;
    let firstRequestSeen!: () => void;
    const firstRequest = new Promise<void>((resolve) => (firstRequestSeen = resolve));
    // The page answers after 1.5 s, naming which fetch it was in a meta refresh.
    const site = await startServer((req, res) => {
      if (req.url !== '/page') return html(res, '<p>landing</p>');
      const fetch = ++requests;
      if (fetch === 1) firstRequestSeen();
      setTimeout(() => html(res, `<meta http-equiv="refresh" content="0;url=/landing-${fetch}">`), 1500);
    });
    const fleet = await startInProcessWorker(jobPrefix, { lockDurationMs: 1000, stalledIntervalMs: 500, maxStalledCount: 3 }, { allowPrivateAddressesFor: [`127.0.0.1:${site.port}`] });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix: jobPrefix });
    const redis = testRedis();
    try {
      const { jobId } = await client.enqueue({ contentId: 'taken-over', surface: 'send', items: [`${site.origin}/page`] });
      await firstRequest;
      // Another worker takes the job over: its lock now holds another token (and expires soon,
      // so the stalled checker hands the job back to this worker, which then runs it again).
      await redis.set(`${jobPrefix}:links:${jobId}:lock`, 'another-worker-token', 'PX', 600);

      const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
      // The one verdict is the second run's: only a first attempt knows its queue wait (a run
      // after a stall does not), and the first attempt's verdict was dropped. (Both runs saw the
      // same page: the second joined the first one's fetch through the unfurl cache.)
      expect(verdict.timings.queueWait).toBeUndefined();
      expect(JSON.stringify(verdict.items[0])).toContain('/landing-1');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await verdictJobIds(jobPrefix)).toEqual([jobId]);
    } finally {
      await client.close();
      await fleet.stop();
      await site.close();
      await redis.quit();
      await removeTestKeys(jobPrefix);
    }
  }, 30_000);
});
