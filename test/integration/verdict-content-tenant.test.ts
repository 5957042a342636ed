/**
 * `abuse-scan verdict --content` finds a job by the id derived from tenant and contentId: a job
 * enqueued with a tenant is not found without `--tenant`, and the not-found message says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT_HINT } from '../../src/cli/verdict-command.js';
import { jobIdForContent } from '../../src/queues/scan-queue.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { runCli } from '../harness/cli.js';
import { removeTestKeys, testRedis, uniquePrefix } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

describe('abuse-scan verdict --content and the tenant', () => {
  const prefix = uniquePrefix('verdict-content-tenant');
  const env = { ABUSE_SCAN_PREFIX: prefix, ABUSE_SCAN_VERDICT_RETENTION_S: undefined };
  const jobId = jobIdForContent('vt1', 'acme');

  beforeAll(async () => {
    const redis = testRedis();
    try {
      await new VerdictStore(redis, { prefix, retentionSeconds: 600, streamMaxLength: 1000 }).storeAll([{ ...sampleVerdict(jobId), contentId: 'vt1', tenant: 'acme' }]);
    } finally {
      await redis.quit();
    }
  });

  afterAll(() => removeTestKeys(prefix));

  it('without --tenant, a job enqueued with one is not found, and the message says to pass --tenant', async () => {
    const withoutTenant = await runCli(['verdict', '--content', 'vt1'], { env });
    expect(withoutTenant.code).toBe(1);
    expect(withoutTenant.stderr).toBe(
      `no verdict stored for job ${jobIdForContent('vt1')} (not scanned yet, or older than the verdict retention of 86400 s); the job id of --content depends on the tenant: if the job was enqueued with a tenant, add --tenant <tenant>\n`,
    );
    expect(withoutTenant.stderr).toContain(TENANT_HINT);
    const json = await runCli(['verdict', '--content', 'vt1', '--json'], { env });
    expect(json).toMatchObject({ code: 1, stdout: '' });
    expect(json.stderr).toContain(TENANT_HINT);

    const withTenant = await runCli(['verdict', '--content', 'vt1', '--tenant', 'acme'], { env });
    expect(withTenant.code).toBe(0);
    expect(withTenant.stdout).toMatch(/^ALLOW {2}vt1 /);
  }, 120_000);

  it('says nothing of the tenant when --tenant was given or the job was named by its id', async () => {
    const otherTenant = await runCli(['verdict', '--content', 'vt1', '--tenant', 'globex'], { env });
    expect(otherTenant.code).toBe(1);
    expect(otherTenant.stderr).toMatch(/^no verdict stored for job c-[0-9a-f]{32} \(not scanned yet, or older than the verdict retention of \d+ s\)\n$/);
    const byId = await runCli(['verdict', 'no-such-job'], { env });
    expect(byId).toMatchObject({ code: 1, stderr: expect.stringMatching(/^no verdict stored for job no-such-job \([^)]*\)\n$/) });
  }, 120_000);
});
