/**
 * README, Running workers: REDIS_URL may be "several comma-separated nodes (... a comma in a
 * password keeps it one node)". A Redis whose password holds a comma is reached by the worker and
 * the operators' commands, not refused as an invalid setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { exitWithin, spawnWorkerProcess, waitForWorkerStart } from '../harness/fleet.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/private-redis.js';
import { uniquePrefix } from '../harness/redis.js';

describe('REDIS_URL with a comma in the password', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis({ password: 's3cr,et' });
  });
  afterAll(async () => redis?.stop());

  it('abuse-scan status connects with it', async () => {
    const { code, stdout, stderr } = await runCli(['status', '--json'], { env: { REDIS_URL: redis.url }, timeoutMs: 20_000 });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toMatchObject({ verdictStreamEntries: 0 });
  }, 30_000);

  it('abuse-scan worker starts with it, and stops on SIGTERM with exit 0', async () => {
    const worker = spawnWorkerProcess(uniquePrefix('comma-password'), { REDIS_URL: redis.url, ABUSE_SCAN_MODELS: 'off' });
    try {
      await waitForWorkerStart(worker);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exitWithin(worker, 20_000)).toEqual({ code: 0, signal: null });
    expect(worker.output()).not.toContain('s3cr,et');
  }, 40_000);
});
