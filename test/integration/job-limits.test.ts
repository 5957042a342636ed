import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { DEFAULT_JOB_LIMITS } from '../../src/jobs/limits.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { removeTestKeys, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

describe('job limits set for the fleet', () => {
  const prefix = uniquePrefix('job-limits');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('let workers scan the larger jobs that producers were allowed to enqueue', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix, limits: { ...DEFAULT_JOB_LIMITS, maxItems: 200 } });
    const fleet = await startInProcessWorker(prefix, { maxItems: 200, unfurl: 'off' });
    const items = Array.from({ length: 150 }, (_, i) => `https://many.example/item/${i}`);
    const { jobId } = await client.enqueue({ contentId: 'a-long-thread', surface: 'send', items });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict.errors).toEqual([]);
    expect(verdict.items).toHaveLength(150);
    expect(verdict.decision).toBe('allow');
    await fleet.stop();
    await client.close();
  }, 30_000);
});
