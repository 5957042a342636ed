import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { removeTestKeys, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';
import { startServer } from './unfurl-servers.js';

/**
 * A worker's scans all listen to its one shutdown signal while they run (each link's deadline,
 * a shared unfurl): at concurrency 32 that is dozens of listeners, every one removed when its job
 * ends. Node took it for a leak and printed a raw MaxListenersExceededWarning into the JSON log.
 */
describe('a busy worker', () => {
  const prefix = uniquePrefix('abort-listeners');
  afterAll(() => removeTestKeys(prefix));

  it('unfurls 64 links at concurrency 32 without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    // Slow pages, so that the jobs overlap.
    const site = await startServer((_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>ok</p>'), 100));
    const fleet = await startInProcessWorker(prefix, { concurrency: 32, models: 'off' }, { allowPrivateAddressesFor: [`127.0.0.1:${site.port}`] });
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    try {
      const jobs = await client.enqueueBulk(Array.from({ length: 64 }, (_, n) => ({ job: { contentId: `busy-${n}`, surface: 'send', items: [`http://127.0.0.1:${site.port}/page-${n}`] } })));
      const verdicts = await Promise.all(jobs.map(({ jobId }) => client.waitForVerdict(jobId, { timeoutMs: 20_000 })));
      expect(verdicts.every((verdict) => verdict.items[0]?.status === 'ok')).toBe(true);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((warning) => warning.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await client.close();
      await fleet.stop();
      await site.close();
    }
  }, 60_000);
});
