import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { removeTestKeys, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('close() ends every waitForVerdict still waiting', () => {
  const prefix = uniquePrefix('wait-close');

  afterAll(async () => {
    await removeTestKeys(prefix);
  });

  it('rejects them at once with ScanError redis_unavailable and clears their timers', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const before = timers();
    const waits = ['pending-a', 'pending-b', 'pending-a'].map((jobId) => client.waitForVerdict(jobId, { timeoutMs: 20_000 }).catch((e: unknown) => e));
    await sleep(300); // subscribed and read once: each is waiting for an announcement
    const started = Date.now();
    await client.close();
    const errors = await Promise.all(waits);
    expect(Date.now() - started).toBeLessThan(1000);
    for (const [index, error] of errors.entries()) {
      expect(error).toMatchObject({ name: 'ScanError', code: 'redis_unavailable', message: expect.stringMatching(/closed while waiting for the verdict of job pending-[ab]/) });
      expect((error as Error).message).toContain(index === 1 ? 'pending-b' : 'pending-a');
    }
    // Nothing of theirs keeps the process alive for the rest of their 20 s.
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('rejects a wait still subscribing when close() is called', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    const wait = client.waitForVerdict('subscribing', { timeoutMs: 20_000 }).catch((e: unknown) => e);
    const started = Date.now();
    await client.close();
    expect(await wait).toMatchObject({ name: 'ScanError', code: 'redis_unavailable' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a wait started after close() without connecting again', async () => {
    const client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    await client.close();
    const started = Date.now();
    await expect(client.waitForVerdict('after-close', { timeoutMs: 5000 })).rejects.toMatchObject({ name: 'ScanError', code: 'redis_unavailable', message: expect.stringContaining('closed') });
    expect(Date.now() - started).toBeLessThan(500);
  });
});
