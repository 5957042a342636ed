import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { ListStore } from '../../src/lists/list-store.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { runCli } from '../harness/cli.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { removeTestKeys, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

/** What drives a terminal or reorders its text; human output may hold only line breaks of these. */
const UNSAFE_FOR_TERMINAL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/;

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

  it('verdict and status print stored outside text escaped: a contentId, a link or a group name cannot drive the terminal', async () => {
    const esc = '\u001b';
    const fake = `${esc}]0;title\u0007${esc}[2J${esc}[1;32mALLOW  post-9\u202e`;
    const verdict = {
      ...sampleVerdict('hostile-1', 'block'),
      contentId: `post-9 ${fake}`,
      reasons: [`block: list phish ${fake}`],
      items: [{ index: 0, kind: 'link' as const, input: `https://phish.example/${fake}`, status: 'ok' as const, details: { canonical: `https://phish.example/\u009b2J` } }],
    };
    const redis = testRedis();
    try {
      await new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 }).storeAll([verdict]);
      await redis.xgroup('CREATE', `${prefix}:verdicts`, `audit${esc}[2J\u202e`, '0', 'MKSTREAM');
    } finally {
      await redis.quit();
    }

    const shown = await runCli(['verdict', 'hostile-1'], { env });
    expect(shown.code).toBe(3);
    expect(shown.stdout).not.toMatch(UNSAFE_FOR_TERMINAL);
    const escaped = '\\x1b]0;title\\x07\\x1b[2J\\x1b[1;32mALLOW  post-9\\u202e';
    expect(shown.stdout.split('\n').filter((line) => /^[A-Z]+ {2}/.test(line))).toEqual([`BLOCK  post-9 ${escaped} (job hostile-1, surface test)`]);
    expect(shown.stdout).toContain(`  why: block: list phish ${escaped}\n`);
    expect(shown.stdout).toContain(`  item 0 [link] https://phish.example/${escaped}: ok\n`);
    expect(shown.stdout).toContain('    canonical: https://phish.example/\\x9b2J\n');
    const json = await runCli(['verdict', 'hostile-1', '--json'], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ contentId: verdict.contentId });

    const status = await runCli(['status'], { env });
    expect(status.code).toBe(0);
    expect(status.stdout).not.toMatch(UNSAFE_FOR_TERMINAL);
    expect(status.stdout).toMatch(/^ {2}group audit\\x1b\[2J\\u202e: /m);
  });
});

