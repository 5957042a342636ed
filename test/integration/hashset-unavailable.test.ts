/**
 * A hash set that exists in Redis but that a worker holds no copy of (its load failed: a worker
 * started while a big import outpaced the load, here a pack that cannot be read) must not let an
 * image through as matching nothing: the job is retried, and a last attempt still without the copy
 * carries the partial error hashset_unavailable (review by default). Once the copy loads, matching
 * is back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { hashSetKeys } from '../../src/hashsets/hash-set-keys.js';
import { HashSetStore } from '../../src/hashsets/hash-set-store.js';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { REPO_ROOT, startInProcessWorker } from '../harness/fleet.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

const COPY = readFileSync(join(REPO_ROOT, 'fixtures', 'images', 'shapes--jpeg-q20.jpg'));

describe('a hash set a worker holds no copy of', () => {
  const prefix = uniquePrefix('hashset-unavailable');
  const redis = testRedis();
  const store = new HashSetStore(redis, { prefix });
  const pack = `${hashSetKeys(prefix, 'known-bad').packPrefix}0`;
  let packBytes: Buffer;
  let original: ReturnType<typeof hashImage>;
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>> | undefined;

  beforeAll(async () => {
    await store.create({ name: 'known-bad', algorithm: 'pdq' });
    original = hashImage(await decodeImage(readFileSync(join(REPO_ROOT, 'fixtures', 'images', 'shapes.jpg'))));
    await store.add('known-bad', [{ id: 'shapes', hash: original.pdq }]);
    // The set's one pack made unreadable (a list where a string belongs): every load of it fails.
    packBytes = (await redis.getBuffer(pack))!;
    await redis.del(pack);
    await redis.rpush(pack, 'not a pack');
    client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 2, backoffMs: 50 });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('gets review with hashset_unavailable after its retries, not allow; a loaded set that blocks the image still blocks it; once the copy loads, the block', async () => {
    worker = await startInProcessWorker(prefix);
    const { jobId } = await client.enqueue({ contentId: 'while-unavailable', surface: 'upload', items: [{ bytesBase64: COPY.toString('base64') }] });
    const unmatched = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(unmatched).toMatchObject({ decision: 'review', attempt: 2 });
    expect(unmatched.errors).toEqual([
      expect.objectContaining({ code: 'hashset_unavailable', item: 0, partial: true, detail: expect.objectContaining({ sets: ['known-bad'], signalType: expect.any(String) }) }),
    ]);

    // A set that is loaded and blocks the image: the block stands, whatever set is still missing.
    await store.create({ name: 'also-bad', algorithm: 'pdq' });
    await store.add('also-bad', [{ id: 'shapes-too', hash: original.pdq }]);
    let also = unmatched;
    for (let n = 0; also.decision !== 'block' && n < 20; n++) {
      const next = await client.enqueue({ contentId: `loaded-set-${n}`, surface: 'upload', items: [{ bytesBase64: COPY.toString('base64') }] });
      also = await client.waitForVerdict(next.jobId, { timeoutMs: 15_000 });
    }
    expect(also).toMatchObject({ decision: 'block', errors: [] });
    expect(also.signals.map((signal) => signal.evidence.set)).toEqual(['also-bad']);
    await store.delete('also-bad');

    await redis.del(pack);
    await redis.set(pack, packBytes);
    // The version check (every 5 s) loads it.
    const deadline = Date.now() + 15_000;
    let verdict = unmatched;
    for (let n = 0; verdict.decision !== 'block' && Date.now() < deadline; n++) {
      const next = await client.enqueue({ contentId: `after-${n}`, surface: 'upload', items: [{ bytesBase64: COPY.toString('base64') }] });
      verdict = await client.waitForVerdict(next.jobId, { timeoutMs: 15_000 });
      if (verdict.decision !== 'block') await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(verdict).toMatchObject({ decision: 'block', errors: [] });
  }, 45_000);
});
