import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { ListStore } from '../../src/lists/list-store.js';
import { runCli } from '../harness/cli.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

describe('abuse-scan verdict and status', () => {
  const prefix = uniquePrefix('verdict-cli');
  const env = { ABUSE_SCAN_PREFIX: prefix };
  let client: ScanClient;

  beforeAll(() => {
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
  });

  afterAll(async () => {
    await client.close();
    await removeTestKeys(prefix);
  });

  it('status counts the jobs waiting per queue before any worker runs', async () => {
    await client.enqueue({ contentId: 'post-1', surface: 'send', items: ['https://phish.example/login'] });
    await client.enqueue({ contentId: 'post-2', surface: 'send', tenant: 'acme', items: ['https://fine.example/'] });
    const { code, stdout } = await runCli(['status', '--json'], { env });
    expect(code).toBe(0);
    const backlog = JSON.parse(stdout) as { jobs: Array<{ queue: string; state: string; count: number }>; verdictStreamEntries: number };
    expect(backlog.jobs).toContainEqual({ queue: 'links', state: 'wait', count: 2 });
    expect(backlog.jobs).toContainEqual({ queue: 'images', state: 'wait', count: 0 });
    expect(backlog.verdictStreamEntries).toBe(0);
    const table = await runCli(['status'], { env });
    expect(table.stdout).toMatch(/^\s+links\s+2\s+0\s+0\s+0\s+0\s+0$/m);
    expect(table.stdout).toContain('no consumer group');
  });

  it('verdict prints a stored verdict with the evidence of the rule that fired, by jobId or by contentId', async () => {
    const redis = testRedis();
    await new ListStore(redis, { prefix }).add('phish', [{ ...canonicalEntry('phish.example'), label: 'kit-9' }]);
    await redis.quit();
    const worker = await startInProcessWorker(prefix, { unfurl: 'off' });
    try {
      const blocked = await client.waitForVerdict((await client.enqueue({ contentId: 'post-1', surface: 'send', items: ['https://phish.example/login'] })).jobId, { timeoutMs: 10_000 });
      await client.waitForVerdict((await client.enqueue({ contentId: 'post-2', surface: 'send', tenant: 'acme', items: ['https://fine.example/'] })).jobId, { timeoutMs: 10_000 });

      const byId = await runCli(['verdict', blocked.jobId], { env });
      expect(byId.code).toBe(3);
      expect(byId.stdout).toMatch(/^BLOCK {2}post-1 /);
      expect(byId.stdout).toMatch(/signal: blocklist\/domain_match item 0 .*-> block .*"list":"phish".*"entry":"phish.example".*"label":"kit-9"/);

      const byContent = await runCli(['verdict', '--content', 'post-2', '--tenant', 'acme', '--json'], { env });
      expect(byContent.code).toBe(0);
      expect(JSON.parse(byContent.stdout)).toMatchObject({ contentId: 'post-2', tenant: 'acme', decision: 'allow' });

      const missing = await runCli(['verdict', '--content', 'post-2'], { env }); // no tenant: another job
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/no verdict stored for job c-[0-9a-f]{32}/);
    } finally {
      await worker.stop();
    }
  }, 30_000);
});
