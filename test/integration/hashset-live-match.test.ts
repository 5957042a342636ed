import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { decodeImage, hashImage } from '../../src/images/index.js';
import type { ConsumedVerdict } from '../../src/jobs/verdict-schema.js';
import { REPO_ROOT, startInProcessWorker } from '../harness/fleet.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

const IMAGE = readFileSync(join(REPO_ROOT, 'fixtures', 'images', 'shapes--jpeg-q20.jpg'));

describe('a running worker matches hash-set changes within a second', () => {
  const prefix = uniquePrefix('hashset-live');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;
  let scans = 0;

  const scan = async () => {
    const { jobId } = await client.enqueue({ contentId: 'shapes-copy', surface: 'upload', items: [{ bytesBase64: IMAGE.toString('base64') }] }, { jobId: `live-${scans++}` });
    return client.waitForVerdict(jobId, { timeoutMs: 10_000 });
  };

  beforeAll(async () => {
    await store.create({ name: 'live-pdq', algorithm: 'pdq' });
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    worker = await startInProcessWorker(prefix);
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('no hash-set signal before the add, a block right after it, none again after a disable', async () => {
    const hashSetSignals = (verdict: ConsumedVerdict) => verdict.signals.filter((s) => s.source === 'hashset');
    const before = await scan();
    expect(before).toMatchObject({ versions: { hashSets: { 'live-pdq': '0' } } });
    expect(hashSetSignals(before)).toEqual([]);

    const original = hashImage(await decodeImage(readFileSync(join(REPO_ROOT, 'fixtures', 'images', 'shapes.jpg'))));
    await store.add('live-pdq', [{ id: 'shapes-original', hash: original.pdq, label: 'test' }]);
    const added = Date.now();
    let verdict = await scan();
    while (hashSetSignals(verdict).length === 0 && Date.now() - added < 1000) verdict = await scan();
    const elapsed = Date.now() - added;
    expect(verdict).toMatchObject({ decision: 'block', versions: { hashSets: { 'live-pdq': '1' } } });
    expect(hashSetSignals(verdict)[0]!.evidence).toMatchObject({ set: 'live-pdq', entryId: 'shapes-original', setVersion: '1' });
    expect(elapsed).toBeLessThan(1000);

    await store.disable('live-pdq', 'shapes-original', 'test over');
    const disabled = Date.now();
    verdict = await scan();
    while (hashSetSignals(verdict).length > 0 && Date.now() - disabled < 1000) verdict = await scan();
    expect(verdict).toMatchObject({ versions: { hashSets: { 'live-pdq': '2' } } });
    expect(hashSetSignals(verdict)).toEqual([]);
  });
});
