import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, DEFAULT_WAIT_FOR_VERDICT_MS, type ScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { sampleVerdict } from '../harness/verdicts.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('waitForVerdict timeoutMs beyond what a timer can hold', () => {
  const prefix = uniquePrefix('wait-range');
  const redis = testRedis();
  const store = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });
  let client: ScanClient;

  beforeAll(() => {
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  });

  afterAll(async () => {
    await client?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it.each([Infinity, 2 ** 31, 1e12, -1, Number.NaN])('is refused with a RangeError naming timeoutMs: %s', async (timeoutMs) => {
    const started = Date.now();
    const error = await client.waitForVerdict('range', { timeoutMs }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/^timeoutMs: .* must be a number of milliseconds from 0 to 2147483647/);
    expect(Date.now() - started).toBeLessThan(200);
  });

  it('the largest a timer holds (2^31 - 1 ms) waits for the verdict', async () => {
    const waiting = client.waitForVerdict('longest', { timeoutMs: 2 ** 31 - 1 });
    await sleep(300);
    await store.storeAll([sampleVerdict('longest', 'block')]);
    expect((await waiting).decision).toBe('block');
  });
});

describe('waitForVerdict default timeout', () => {
  it("outlasts a worker's default scan deadline, so a job that takes all of it is still waited for", () => {
    expect(DEFAULT_WAIT_FOR_VERDICT_MS).toBeGreaterThan(loadConfig({}).jobTimeoutMs + 10_000);
  });
});
