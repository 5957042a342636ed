/**
 * A list that exists in Redis but that a worker cannot load (an entry field no release writes, an
 * entries key of the wrong type) stops neither the worker's start nor the other lists: links the
 * lists held block are blocked, and a link they do not decide is not let through as matching
 * nothing: the job is retried (list_unavailable is transient), and a last attempt still without
 * the list carries the partial error list_unavailable (review by default), as hash sets do with
 * hashset_unavailable. Once the list is repaired it blocks. A list held whose reload fails goes on
 * matching with the copy held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { canonicalEntry, entryFields } from '../../src/lists/list-entry.js';
import { listKeys } from '../../src/lists/list-keys.js';
import { ListStore } from '../../src/lists/list-store.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { deletePrefix, testRedis, uniquePrefix, TEST_REDIS_URL } from '../harness/redis.js';

describe('a list a worker cannot load', () => {
  const prefix = uniquePrefix('list-unavailable');
  const redis = testRedis();
  const store = new ListStore(redis, { prefix });
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>> | undefined;
  let n = 0;
  type Verdict = Awaited<ReturnType<ScanClient['waitForVerdict']>>;

  const scan = async (url: string): Promise<Verdict> => {
    const { jobId } = await client.enqueue({ contentId: `link-${n++}`, surface: 'send', items: [url] });
    return client.waitForVerdict(jobId, { timeoutMs: 15_000 });
  };
  /** Scans until the verdict's decision is `decision` (a reload reaches the worker within milliseconds), at most 5 s. */
  const scanUntil = async (url: string, decision: Verdict['decision']): Promise<Verdict> => {
    const deadline = Date.now() + 5000;
    let verdict = await scan(url);
    while (verdict.decision !== decision && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      verdict = await scan(url);
    }
    return verdict;
  };
  const unavailable = (lists: string[]) => [
    expect.objectContaining({ code: 'list_unavailable', item: 0, partial: true, detail: { lists, signalType: 'link-blocklist' } }),
  ];

  beforeAll(async () => {
    await store.add('phish', [canonicalEntry('evil.example')]);
    await store.add('corrupt', [canonicalEntry('hidden.example')]);
    await store.add('stringy', [canonicalEntry('other.example')]);
    // As the reviewer's repro: a field no release writes, and an entries key holding a string (WRONGTYPE).
    await redis.hset(listKeys(prefix, 'corrupt').entries, 'z:bogus', '2025-01-01T00:00:00Z {}');
    await redis.del(listKeys(prefix, 'stringy').entries);
    await redis.set(listKeys(prefix, 'stringy').entries, 'not a hash');
    client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 2, backoffMs: 50 });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('starts, blocks by the lists it holds, retries then reviews a link they do not decide (list_unavailable), and blocks once the list is repaired', async () => {
    // (a) The worker starts with two unreadable lists and blocks by the one it could load.
    worker = await startInProcessWorker(prefix, { unfurl: 'off', models: 'off' });
    const blocked = await scan('http://evil.example/login');
    expect(blocked).toMatchObject({ decision: 'block', attempt: 1, errors: [] });
    expect(blocked.signals.map((signal) => signal.evidence.list)).toEqual(['phish']);

    // (b) A link no held list decides, the corrupt list's own entry among them: retried, then review with the error, never allow.
    for (const url of ['http://hidden.example/', 'http://clean.example/']) {
      const verdict = await scan(url);
      expect(verdict, url).toMatchObject({ decision: 'review', attempt: 2 });
      expect(verdict.errors, url).toEqual(unavailable(['corrupt', 'stringy']));
      expect(verdict.versions.lists).toEqual({ phish: '1' });
    }

    // (c) Repaired (the bad field removed; the change that follows reaches the worker at once): it blocks.
    await redis.hdel(listKeys(prefix, 'corrupt').entries, 'z:bogus');
    await store.add('corrupt', [canonicalEntry('hidden2.example')]);
    const repaired = await scanUntil('http://hidden.example/', 'block');
    // (Its first attempt may have run before the reload: list_unavailable retries it.)
    expect(repaired).toMatchObject({ decision: 'block', errors: [] });
    expect(repaired.signals.map((signal) => signal.evidence.list)).toEqual(['corrupt']);
    // Still without `stringy`: a link no held list decides still gets the error, naming it alone.
    expect((await scan('http://clean.example/')).errors).toEqual(unavailable(['stringy']));

    await redis.del(listKeys(prefix, 'stringy').entries);
    await store.add('stringy', [canonicalEntry('other.example')]);
    expect(await scanUntil('http://clean.example/', 'allow')).toMatchObject({ decision: 'allow', errors: [] });
    expect((await scan('http://other.example/')).signals.map((signal) => signal.evidence.list)).toEqual(['stringy']);
  }, 60_000);

  it('goes on matching with the copy held when a reload of a list fails, until the list is repaired', async () => {
    const phish = listKeys(prefix, 'phish');
    const held = (await store.identity('phish'))!.version;
    // A version whose changes are not in the changelog (a whole load) over an unreadable field.
    const [evilField] = entryFields(canonicalEntry('evil.example'));
    const [worseField] = entryFields(canonicalEntry('worse.example'));
    const info = (await redis.hget(phish.entries, evilField))!;
    await redis.hset(phish.entries, 'z:bogus', '2025-01-01T00:00:00Z {}', worseField, info);
    await redis.hincrby(phish.meta, 'version', 1);
    await redis.publish(store.channel, `phish ${held + 1}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stale = await scan('http://evil.example/');
    expect(stale).toMatchObject({ decision: 'block', attempt: 1, errors: [], versions: { lists: expect.objectContaining({ phish: String(held) }) } });
    expect(await scan('http://clean.example/')).toMatchObject({ decision: 'allow', errors: [] });

    await redis.hdel(phish.entries, 'z:bogus');
    await redis.publish(store.channel, `phish ${held + 1}`);
    const reloaded = await scanUntil('http://worse.example/', 'block');
    expect(reloaded).toMatchObject({ decision: 'block', versions: { lists: expect.objectContaining({ phish: String(held + 1) }) } });
  }, 30_000);
});
