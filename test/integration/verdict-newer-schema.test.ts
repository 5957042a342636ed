import { afterAll, describe, expect, it } from 'vitest';
import { createScanClient } from '../../src/client/scan-client.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { runCli } from '../harness/cli.js';
import { suiteRedis } from '../harness/redis.js';
import { sampleVerdict } from '../harness/verdicts.js';

describe('a stored verdict of a newer schemaVersion (a newer worker, mid-deploy)', () => {
  const { prefix, redis } = suiteRedis('newer-schema');
  const client = createScanClient({ connection: redis, prefix });
  const keys = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 }).keys;
  // As the newer worker wrote it: a field this version does not know, key order its own.
  const json = JSON.stringify({ ...sampleVerdict('from-v2', 'block'), schemaVersion: 2, quarantine: { until: 'later' } });

  afterAll(() => client.close());

  it('getVerdict and waitForVerdict throw ScanError unsupported_schema_version naming the job', async () => {
    await redis.set(keys.verdict('from-v2'), json, 'EX', 60);
    for (const read of [() => client.getVerdict('from-v2'), () => client.waitForVerdict('from-v2', { timeoutMs: 1000 })]) {
      await expect(read()).rejects.toMatchObject({ name: 'ScanError', code: 'unsupported_schema_version', message: expect.stringContaining('job from-v2') });
    }
  });

  it.each([
    ['a decision this version does not know', JSON.stringify({ ...sampleVerdict('odd', 'block'), decision: 'escalate' }), /decision/],
    ['an item status this version does not know', JSON.stringify({ ...sampleVerdict('odd', 'block'), items: [{ index: 0, kind: 'link', input: 'https://a.example/', status: 'skipped' }] }), /items\.0\.status/],
    ['text that is not JSON', '{"schemaVersion":1,', /not JSON/],
  ])('a stored verdict of this schemaVersion it cannot read (%s): ScanError invalid_verdict naming the job, not a raw parse error', async (_name, stored, says) => {
    await redis.set(keys.verdict('odd'), stored, 'EX', 60);
    for (const read of [() => client.getVerdict('odd'), () => client.waitForVerdict('odd', { timeoutMs: 1000 })]) {
      const error = await read().then(() => undefined, (thrown: unknown) => thrown as Error & { code?: string });
      expect(error).toMatchObject({ name: 'ScanError', code: 'invalid_verdict', message: expect.stringContaining('job odd') });
      expect(error!.message).toMatch(says);
    }
    const human = await runCli(['verdict', 'odd'], { env: { ABUSE_SCAN_PREFIX: prefix } });
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/invalid_verdict: .*job odd/);
  });

  it('abuse-scan verdict --json prints it as stored; the human form names the code', async () => {
    await redis.set(keys.verdict('from-v2'), json, 'EX', 60);
    const env = { ABUSE_SCAN_PREFIX: prefix };
    const raw = await runCli(['verdict', 'from-v2', '--json'], { env });
    expect(raw).toMatchObject({ code: 3, stdout: `${json}\n` });
    const human = await runCli(['verdict', 'from-v2'], { env });
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/unsupported_schema_version: .*job from-v2/);
  });
});
