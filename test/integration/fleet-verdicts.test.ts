import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { verdictSchema } from '../../src/jobs/verdict-schema.js';
import { startInProcessWorker, verdictJobIds, waitUntil } from '../harness/fleet.js';
import { uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';
import { mixedJob } from '../harness/jobs.js';
import { redirect, html, startServer, type TestServer } from './unfurl-servers.js';

describe('the fleet turns every enqueued job into exactly one verdict', () => {
  const prefix = uniquePrefix('fleet');
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;
  let site: TestServer;

  beforeAll(async () => {
    // Every link is really unfurled: /r/N redirects to /page/N, which is a page.
    site = await startServer((req, res) => {
      const redirectTo = /^\/r\/(\d+)/.exec(req.url ?? '');
      if (redirectTo) redirect(res, 302, `/page/${redirectTo[1]}`);
      else html(res, '<html><body>landing</body></html>');
    });
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    worker = await startInProcessWorker(prefix, { concurrency: 32 }, { allowPrivateAddressesFor: [`127.0.0.1:${site.port}`] });
  });

  afterAll(async () => {
    await worker?.stop();
    await site?.close();
    await client?.close();
    await removeTestKeys(prefix);
  });

  it('1,000 mixed jobs give 1,000 verdicts with unique jobIds', async () => {
    const enqueued = await client.enqueueBulk(Array.from({ length: 1000 }, (_, i) => ({ job: mixedJob(i, site.origin) })));
    expect(new Set(enqueued.map((e) => e.jobId)).size).toBe(1000);
    expect(new Set(enqueued.map((e) => e.queue))).toEqual(new Set(['links', 'images']));

    const done = await waitUntil(async () => (await verdictJobIds(prefix)).length >= 1000, 60_000, 250);
    expect(done).toBe(true);
    const ids = await verdictJobIds(prefix);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids)).toEqual(new Set(enqueued.map((e) => e.jobId)));

    const sample = verdictSchema.parse(await client.getVerdict(enqueued[7]!.jobId));
    expect(sample).toMatchObject({ contentId: 'content-7', surface: 'send', attempt: 1, decision: 'allow', errors: [] });
    // The redirect was followed and every hop recorded with the address connected to.
    expect(sample.items[0]!.details.chain).toEqual([
      expect.objectContaining({ status: 302, address: '127.0.0.1', redirect: 'http' }),
      expect.objectContaining({ status: 200, address: '127.0.0.1' }),
    ]);
    expect(site.requests.length).toBeGreaterThanOrEqual(2000);
    // Jobs with an image decoded and hashed it once.
    const withImage = verdictSchema.parse(await client.getVerdict(enqueued[9]!.jobId));
    expect(withImage.items[2]).toMatchObject({ kind: 'image', status: 'ok', details: { format: 'png', width: 8, height: 8 } });
    expect(withImage.items[2]!.details.pdq).toMatch(/^[0-9a-f]{64}$/);
  }, 90_000); // past the 60 s the verdicts may take: it checks verdicts, not throughput (bench:queue does)

  it('deduplicates on contentId: the same content enqueued again yields no second verdict', async () => {
    const again = await client.enqueue(mixedJob(3, site.origin));
    const verdict = await client.waitForVerdict(again.jobId, { timeoutMs: 5000 });
    expect(verdict.contentId).toBe('content-3');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await verdictJobIds(prefix)).filter((id) => id === again.jobId)).toHaveLength(1);
  });

  it('waitForVerdict resolves for a job enqueued after the wait began', async () => {
    const job = { contentId: 'late-1', surface: 'send', items: [`${site.origin}/late/path`] };
    const jobId = 'explicit-late-1';
    const waiting = client.waitForVerdict(jobId, { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.enqueue(job, { jobId });
    const verdict = await waiting;
    expect(verdict).toMatchObject({ jobId, contentId: 'late-1', surface: 'send', decision: 'allow' });
    expect(verdict.items[0]).toMatchObject({ kind: 'link', status: 'ok' });
  });

  it('waiters started together on a fresh client all see their verdicts (one shared subscription)', async () => {
    const fresh = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const jobs = Array.from({ length: 50 }, (_, i) => ({ contentId: `together-${i}`, surface: 'send', items: [`${site.origin}/t/${i}`] }));
    const waits = jobs.map((_, i) => fresh.waitForVerdict(`together-${i}`, { timeoutMs: 15_000 }));
    await client.enqueueBulk(jobs.map((job, i) => ({ job, options: { jobId: `together-${i}` } })));
    expect((await Promise.all(waits)).map((v) => v.contentId)).toEqual(jobs.map((j) => j.contentId));
    await fresh.close();
  });

  it('waitForVerdict times out with a typed error', async () => {
    await expect(client.waitForVerdict('never-enqueued', { timeoutMs: 200 })).rejects.toMatchObject({ code: 'verdict_timeout' });
  });
});
