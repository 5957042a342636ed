import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { VerdictStore } from '../../src/verdicts/verdict-store.js';
import { waitUntil } from '../harness/fleet.js';
import { sampleVerdict } from '../harness/verdicts.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from '../harness/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('waitForVerdict finds verdicts whose announcement it missed', () => {
  const prefix = uniquePrefix('wait-missed');
  // Names the client's connections, so the test can find its subscriber among the server's clients.
  const connectionName = `wait-missed-${randomUUID().slice(0, 8)}`;
  const redis = testRedis();
  const store = new VerdictStore(redis, { prefix, retentionSeconds: 60, streamMaxLength: 1000 });
  let client: ScanClient;

  /** Server-side ids of the client's subscriber connection, once it is subscribed. */
  async function subscriberIds(): Promise<string[]> {
    const clients = (await redis.client('LIST')) as string;
    return clients
      .split('\n')
      .filter((line) => line.includes(` name=${connectionName} `) && / cmd=subscribe /.test(line))
      .map((line) => /^id=(\d+)/.exec(line)![1]!);
  }

  beforeAll(() => {
    const url = new URL(TEST_REDIS_URL);
    url.searchParams.set('connectionName', connectionName);
    client = createScanClient({ connection: url.toString(), prefix });
  });

  afterAll(async () => {
    await client?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('a verdict stored while the subscriber reconnects', async () => {
    const waiting = client.waitForVerdict('stored-during-reconnect', { timeoutMs: 3000 });
    expect(await waitUntil(async () => (await subscriberIds()).length === 1, 5000, 20)).toBe(true);
    // The subscriber's connection drops (failover, idle timeout); the verdict is announced before it is back.
    for (const id of await subscriberIds()) await redis.client('KILL', 'ID', id);
    await store.storeAll([sampleVerdict('stored-during-reconnect', 'block')]);
    const started = Date.now();
    expect((await waiting).jobId).toBe('stored-during-reconnect');
    // Found once subscribed again, not by the last read at the deadline.
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an announcement without a stored verdict keeps it waiting', async () => {
    const waiting = client.waitForVerdict('announced-early', { timeoutMs: 5000 });
    await sleep(200);
    await redis.publish(store.keys.channel, 'announced-early');
    await sleep(200);
    await store.storeAll([sampleVerdict('announced-early', 'block')]);
    expect((await waiting).jobId).toBe('announced-early');
  });

  it('a verdict stored but never announced, by a last read at the deadline', async () => {
    const waiting = client.waitForVerdict('never-announced', { timeoutMs: 800 });
    await sleep(200);
    await redis.set(store.keys.verdict('never-announced'), JSON.stringify(sampleVerdict('never-announced', 'block')), 'EX', 60);
    expect((await waiting).jobId).toBe('never-announced');
  });

  it('no verdict at all is still verdict_timeout', async () => {
    const started = Date.now();
    await expect(client.waitForVerdict('never-stored', { timeoutMs: 300 })).rejects.toMatchObject({ code: 'verdict_timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});
