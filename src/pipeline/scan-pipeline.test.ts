import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import type { ScanItem } from '../jobs/job-schema.js';
import { DEFAULT_JOB_LIMITS } from '../jobs/limits.js';
import { validateJob } from '../jobs/validate-job.js';
import { verdictSchema, type Signal } from '../jobs/verdict-schema.js';
import { DEFAULT_POLICY } from '../policy/policy-config.js';
import { UnfurlCache } from '../links/unfurl-cache.js';
import { canonicalEntry } from '../lists/list-entry.js';
import { compileList, ListMatcher } from '../lists/list-matcher.js';
import { createLinkBlocklistSignalType } from '../signals/link-blocklist/index.js';
import { SignalRegistry } from '../signals/registry.js';
import type { SignalType } from '../signals/signal-type.js';
import { LinkPreparer, type LinkSubject } from './link-preparer.js';
import type { ItemPreparer } from './item-preparer.js';
import { DEFAULT_DEADLINE_GRACE_MS, ScanPipeline, errorVerdict } from './scan-pipeline.js';

/** A real, if small, signal type: fires when any URL a link reaches is on a fixed host. */
function hostSignal(host: string): SignalType<LinkSubject> {
  return {
    name: 'test-host',
    accepts: 'link',
    match: (subject, item) =>
      subject.targets
        .filter((t) => t.canonical.host === host)
        .map((t) => ({ source: 'test', kind: 'host_match', item, score: 1, suggests: 'block' as const, evidence: { host, hop: t.hop } })),
    versions: () => ({ lists: { 'test-hosts': '7' } }),
  };
}

/** A signal type whose match fails the way the caller chooses (a model that cannot run, say). */
function failingSignal(name: string, error: ScanError): SignalType<LinkSubject> {
  return {
    name,
    accepts: 'link',
    match: () => {
      throw error;
    },
    versions: () => ({}),
  };
}

/** Image items fail in the way the caller chooses, to pin the pipeline's error handling. */
function failingImages(error: ScanError): ItemPreparer {
  return {
    kind: 'image',
    prepare: async (_item: ScanItem) => {
      throw error;
    },
  };
}

const run = { jobId: 'job-1', attempt: 1, finalAttempt: false };
const job = (items: ScanItem[]) => ({ schemaVersion: 1 as const, contentId: 'c-1', surface: 'send', items });

describe('ScanPipeline', () => {
  const links = new LinkPreparer({ unfurl: false });

  it('names in the verdict the list versions the job was matched against, not those of a reload since', async () => {
    const phish = (version: string) => new ListMatcher([compileList({ name: 'phish', version, role: 'block', action: 'block' }, [canonicalEntry('evil.example')])]);
    const lists = [phish('4'), phish('5')];
    // The first lookup gets version 4; the replica has swapped in 5 for anything read later.
    let reads = 0;
    const blocklist = createLinkBlocklistSignalType({ current: () => lists[Math.min(reads++, 1)]! });
    const pipeline = new ScanPipeline({ preparers: [links], registry: new SignalRegistry([blocklist]), policy: DEFAULT_POLICY });
    const verdict = await pipeline.scan(job(['http://evil.example/login']), run);
    expect(verdict.signals.map((s) => s.evidence.listVersion)).toEqual(['4']);
    expect(verdict.versions.lists).toEqual({ phish: '4' });
  });

  it('prepares each item once, runs the signal types of its kind, and decides', async () => {
    const pipeline = new ScanPipeline({ preparers: [links], registry: new SignalRegistry([hostSignal('evil.example')]), policy: DEFAULT_POLICY });
    const verdict = await pipeline.scan(job(['https://good.example/', 'http://EVIL.example./a/../login']), { ...run, queueWaitMs: 12 });
    expect(verdictSchema.parse(verdict)).toEqual(verdict);
    expect(verdict.decision).toBe('block');
    expect(verdict.signals).toEqual([{ source: 'test', kind: 'host_match', item: 1, score: 1, suggests: 'block', evidence: { host: 'evil.example', hop: 0 } }]);
    expect(verdict.reasons).toEqual(['block: test/host_match on item 1, score 1.000']);
    expect(verdict.items.map((i) => [i.index, i.status, i.details.canonical])).toEqual([
      [0, 'ok', 'https://good.example/'],
      [1, 'ok', 'http://evil.example/login'],
    ]);
    expect(verdict.versions).toMatchObject({ lists: { 'test-hosts': '7' } });
    expect(verdict.timings).toMatchObject({ queueWait: 12, links: expect.any(Number), total: expect.any(Number) });
  });

  it('names the versions of what the job\'s items consulted: a link job does not name the image hash sets', async () => {
    const imageHashes: SignalType = { name: 'test-image-hashes', accepts: 'image', match: () => [], versions: () => ({ hashSets: { known: '3' } }) };
    const pipeline = new ScanPipeline({ preparers: [links], registry: new SignalRegistry([hostSignal('evil.example'), imageHashes]), policy: DEFAULT_POLICY });
    const verdict = await pipeline.scan(job(['https://good.example/']), run);
    expect(verdict.versions).toEqual({ scanner: expect.any(String), lists: { 'test-hosts': '7' }, hashSets: {}, models: {} });
    // A job that never reached a scan (an error verdict) names everything the pipeline would consult.
    expect(pipeline.versions()).toMatchObject({ lists: { 'test-hosts': '7' }, hashSets: { known: '3' } });
  });

  it('records a permanent item error in the verdict and keeps scanning the other items', async () => {
    const pipeline = new ScanPipeline({
      preparers: [links, failingImages(new ScanError('image_corrupt'))],
      registry: new SignalRegistry(),
      policy: DEFAULT_POLICY,
    });
    const verdict = await pipeline.scan(job([{ bytesBase64: 'AAAA' }, 'https://fine.example/', '']), run);
    expect(verdict.items.map((i) => i.status)).toEqual(['error', 'ok', 'error']);
    expect(verdict.errors.map((e) => [e.item, e.code])).toEqual([
      [0, 'image_corrupt'],
      [2, 'invalid_url'],
    ]);
    expect(verdict.decision).toBe('review');
  });

  it('throws a transient error so the queue retries, except on the final attempt', async () => {
    const pipeline = new ScanPipeline({ preparers: [failingImages(new ScanError('fetch_timeout'))], registry: new SignalRegistry(), policy: DEFAULT_POLICY });
    await expect(pipeline.scan(job([{ url: 'https://img.example/a.png' }]), run)).rejects.toMatchObject({ code: 'fetch_timeout' });
    const last = await pipeline.scan(job([{ url: 'https://img.example/a.png' }]), { ...run, attempt: 5, finalAttempt: true });
    expect(last).toMatchObject({ attempt: 5, decision: 'review', errors: [{ code: 'fetch_timeout', item: 0 }] });
  });

  it('a failing signal type is a partial error of its item: the other types still run and their signals count', async () => {
    const failing = failingSignal('test-model', new ScanError('model_failed', 'inference failed'));
    // Before or after the type that fires: neither order loses the other's signal.
    for (const order of [[failing, hostSignal('evil.example')], [hostSignal('evil.example'), failing]]) {
      const pipeline = new ScanPipeline({ preparers: [links], registry: new SignalRegistry(order), policy: DEFAULT_POLICY });
      const verdict = await pipeline.scan(job(['http://evil.example/']), { ...run, attempt: 5, finalAttempt: true });
      expect(verdictSchema.parse(verdict)).toEqual(verdict);
      expect(verdict.decision).toBe('block');
      expect(verdict.signals).toEqual([expect.objectContaining({ source: 'test', kind: 'host_match', item: 0 })]);
      expect(verdict.errors).toEqual([{ code: 'model_failed', message: 'inference failed', item: 0, partial: true, detail: { signalType: 'test-model' } }]);
      expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { canonical: 'http://evil.example/', failedSignalTypes: ['test-model'] } });
      expect(verdict.reasons).toEqual(['block: test/host_match on item 0, score 1.000', 'review: partial error model_failed in signal type test-model on item 0']);
    }
    // Nothing else fired: the policy's decision for the error is the verdict's.
    const alone = new ScanPipeline({ preparers: [links], registry: new SignalRegistry([failing, hostSignal('evil.example')]), policy: DEFAULT_POLICY });
    expect((await alone.scan(job(['https://good.example/']), { ...run, finalAttempt: true })).decision).toBe('review');
  });

  it('a signal type failing transiently retries the job while attempts remain', async () => {
    const pipeline = new ScanPipeline({
      preparers: [links],
      registry: new SignalRegistry([hostSignal('evil.example'), failingSignal('test-model', new ScanError('model_failed'))]),
      policy: DEFAULT_POLICY,
    });
    await expect(pipeline.scan(job(['http://evil.example/']), run)).rejects.toMatchObject({ code: 'model_failed' });
  });

  it('refuses items no preparer accepts with a typed error', async () => {
    const pipeline = new ScanPipeline({ preparers: [links], registry: new SignalRegistry(), policy: DEFAULT_POLICY });
    const verdict = await pipeline.scan(job([{ path: 'a.png' }]), run);
    expect(verdict.errors).toEqual([expect.objectContaining({ code: 'unsupported_item', item: 0 })]);
  });

  it('builds an error verdict from whatever fields a broken job still has', () => {
    const verdict = errorVerdict({ contentId: 'x', surface: 42 }, { jobId: 'j', attempt: 1 }, new ScanError('invalid_job', 'surface: expected string'), DEFAULT_POLICY, {
      scanner: '0',
      lists: {},
      hashSets: {},
      models: {},
    });
    expect(verdictSchema.parse(verdict)).toMatchObject({ contentId: 'x', surface: '', decision: 'review', errors: [{ code: 'invalid_job' }] });
  });

  it("echoes the producer's metadata in an error verdict, as far as it is a record of strings", () => {
    const versions = { scanner: '0', lists: {}, hashSets: {}, models: {} };
    const stalled = new ScanError('job_stalled', 'job stalled more than allowable limit');
    const verdict = errorVerdict({ contentId: 'm1', surface: 'send', items: [], metadata: { messageId: 'msg-7', thread: 't-1', count: 3 } }, { jobId: 'j', attempt: 1 }, stalled, DEFAULT_POLICY, versions);
    expect(verdictSchema.parse(verdict).metadata).toEqual({ messageId: 'msg-7', thread: 't-1' });
    expect(errorVerdict({ contentId: 'm2', metadata: ['not', 'a', 'record'] }, { jobId: 'k', attempt: 1 }, stalled, DEFAULT_POLICY, versions).metadata).toBeUndefined();
  });

  describe('echoes the job under the configured job limits', () => {
    const versions = { scanner: '0', lists: {}, hashSets: {}, models: {} };
    const stalled = new ScanError('job_stalled', 'job stalled more than allowable limit');
    const limits = { ...DEFAULT_JOB_LIMITS, maxIdLength: 1024, maxMetadataKeys: 200, maxMetadataKeyLength: 400 };

    it('a valid job exactly, whatever the default limits would cut (consumers act on verdict.contentId)', () => {
      const metadata: Record<string, string> = {};
      for (let i = 0; i < 150; i++) metadata[`k${String(i).padStart(3, '0')}`] = 'v';
      metadata[`route.${'y'.repeat(300)}`] = 'enforcement-queue-7';
      const raw = { contentId: `tenant-acme/conversation-${'x'.repeat(300)}`, surface: `send-${'s'.repeat(300)}`, tenant: `t-${'t'.repeat(400)}`, items: ['https://x.example/'], metadata };
      expect(validateJob(raw, { limits })).toBeDefined();
      const verdict = verdictSchema.parse(errorVerdict(raw, { jobId: 'j1', attempt: 3 }, stalled, DEFAULT_POLICY, versions, { validation: { limits } }));
      expect(verdict).toMatchObject({ contentId: raw.contentId, surface: raw.surface, tenant: raw.tenant, metadata, errors: [{ code: 'job_stalled' }] });
      // The caller's validated job is echoed as is, with no second validation.
      const job = validateJob(raw, { limits });
      expect(errorVerdict(raw, { jobId: 'j1', attempt: 3 }, stalled, DEFAULT_POLICY, versions, { validated: job })).toMatchObject({ contentId: raw.contentId, metadata });
    });

    it('an invalid job cut to the configured limits, not to fixed ones', () => {
      const small = { ...limits, maxMetadataKeys: 3, maxMetadataKeyLength: 10, maxMetadataBytes: 2000 };
      const raw = {
        contentId: 'c'.repeat(1100),
        surface: 'send',
        tenant: 't'.repeat(700),
        items: [],
        metadata: { a: 'x'.repeat(2000), ['b'.repeat(20)]: 'two', ['b'.repeat(30)]: 'same key once cut', n: 7, c: 'three', d: 'four' },
      };
      const verdict = verdictSchema.parse(errorVerdict(raw, { jobId: 'j2', attempt: 1 }, new ScanError('invalid_job', 'items: too few'), DEFAULT_POLICY, versions, { validation: { limits: small } }));
      expect(verdict.contentId).toBe('c'.repeat(1024));
      expect(verdict.tenant).toBe('t'.repeat(700));
      // At most 3 string entries, keys of at most 10 characters (the first of two that cut alike), values of at most 1024.
      expect(verdict.metadata).toEqual({ a: 'x'.repeat(1024), ['b'.repeat(10)]: 'two', c: 'three' });
      // ... and at most maxMetadataBytes of them: an entry that would pass the cap ends the echo.
      const tight = errorVerdict(raw, { jobId: 'j3', attempt: 1 }, new ScanError('invalid_job', 'items: too few'), DEFAULT_POLICY, versions, { validation: { limits: { ...small, maxMetadataBytes: 1030 } } });
      expect(tight.metadata).toEqual({ a: 'x'.repeat(1024) });
      // Without limits, the defaults: 256 characters.
      expect(errorVerdict(raw, { jobId: 'j4', attempt: 1 }, stalled, DEFAULT_POLICY, versions).contentId).toBe('c'.repeat(256));
    });
  });

  it("reports the attempt's timings it is given: elapsed total and queue wait; total 0 when none ran", () => {
    const versions = { scanner: '0', lists: {}, hashSets: {}, models: {} };
    const raw = { contentId: 'c', surface: 's', items: [] };
    const error = new ScanError('invalid_job', 'items: a job needs at least one item');
    expect(errorVerdict(raw, { jobId: 'j', attempt: 1 }, error, DEFAULT_POLICY, versions, { timings: { total: 12.3456, queueWait: 3.004 } }).timings).toEqual({ total: 12.35, queueWait: 3 });
    expect(errorVerdict(raw, { jobId: 'j', attempt: 1 }, error, DEFAULT_POLICY, versions, { timings: { total: 5, queueWait: undefined } }).timings).toEqual({ total: 5 });
    expect(errorVerdict(raw, { jobId: 'j', attempt: 1 }, error, DEFAULT_POLICY, versions).timings).toEqual({ total: 0 });
  });
});

describe('ScanPipeline when an item fails the job', () => {
  /** Link items whose preparation the test finishes by hand; item 0 fails at once with a transient error. */
  function heldLinks() {
    const started: number[] = [];
    const release: Array<() => void> = [];
    const preparer: ItemPreparer = {
      kind: 'link',
      prepare: async (item: ScanItem, index: number) => {
        started.push(index);
        if (index === 0) throw new ScanError('fetch_timeout', 'the first link timed out');
        await new Promise<void>((resolve) => release.push(resolve));
        return { subject: { input: String(item), targets: [] }, details: {} };
      },
    };
    return { preparer, started, release };
  }

  it('starts no further item and settles only once the items under way are done', async () => {
    const { preparer, started, release } = heldLinks();
    const pipeline = new ScanPipeline({ preparers: [preparer], registry: new SignalRegistry(), policy: DEFAULT_POLICY, itemConcurrency: { link: 3 } });
    let settled = false;
    const scan = pipeline.scan(job(['https://a.example/', 'https://b.example/', 'https://c.example/', 'https://d.example/', 'https://e.example/']), run);
    const outcome = scan.then(
      () => 'resolved',
      (error: unknown) => error,
    ).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toEqual([0, 1, 2]); // item 0 failed: items 3 and 4 never start
    expect(settled).toBe(false); // items 1 and 2 are still under way
    release.forEach((finish) => finish());
    expect(await outcome).toMatchObject({ code: 'fetch_timeout' });
    expect(started).toEqual([0, 1, 2]);
  });

  it('starts no further item once its run is aborted', async () => {
    const { preparer, started, release } = heldLinks();
    const pipeline = new ScanPipeline({ preparers: [preparer], registry: new SignalRegistry(), policy: DEFAULT_POLICY, itemConcurrency: { link: 1 } });
    const abort = new AbortController();
    const scan = pipeline.scan(job(['https://a.example/', 'https://b.example/', 'https://c.example/']), { ...run, finalAttempt: true, signal: abort.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toEqual([0, 1]); // item 0 failed on its final attempt (an error item), item 1 is held
    abort.abort(new ScanError('fetch_timeout', 'the worker gave the job up'));
    release.forEach((finish) => finish());
    await expect(scan).rejects.toMatchObject({ code: 'fetch_timeout', message: 'the worker gave the job up' });
    expect(started).toEqual([0, 1]);
  });
});

describe('ScanPipeline with a job deadline (ABUSE_SCAN_JOB_TIMEOUT_MS)', () => {
  /** Link items: item 0 is prepared at once, the others wait for the job's signal (a slow fetch). */
  function slowLinks() {
    const started: number[] = [];
    const preparer: ItemPreparer = {
      kind: 'link',
      prepare: async (item: ScanItem, index: number, signal: AbortSignal) => {
        started.push(index);
        if (index > 0) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
        return { subject: { input: String(item), targets: [{ hop: 0, canonical: { host: new URL(String(item)).host } }] }, details: { prepared: true } };
      },
    };
    return { preparer, started };
  }
  const items = ['http://evil.example/', 'https://b.example/', 'https://c.example/', 'https://d.example/', 'https://e.example/'];

  it('gives every unfinished or unstarted item a partial scan_deadline and keeps the finished ones, without a retry', async () => {
    const { preparer, started } = slowLinks();
    const pipeline = new ScanPipeline({ preparers: [preparer], registry: new SignalRegistry([hostSignal('evil.example')]), policy: DEFAULT_POLICY, itemConcurrency: { link: 2 }, jobTimeoutMs: 100 });
    const begun = performance.now();
    // Not the final attempt: the deadline's error is permanent, so the job is not retried.
    const verdict = await pipeline.scan(job(items), run);
    expect(performance.now() - begun).toBeLessThan(1000);
    expect(verdictSchema.parse(verdict)).toEqual(verdict);
    expect(started).toEqual([0, 1, 2]); // items 3 and 4 never started
    expect(verdict.items.map((i) => [i.index, i.status, i.error?.code])).toEqual([
      [0, 'ok', undefined],
      [1, 'error', 'scan_deadline'],
      [2, 'error', 'scan_deadline'],
      [3, 'error', 'scan_deadline'],
      [4, 'error', 'scan_deadline'],
    ]);
    expect(verdict.errors).toEqual([1, 2, 3, 4].map((item) => ({ code: 'scan_deadline', message: expect.stringContaining('100 ms'), item, partial: true, detail: { jobTimeoutMs: 100 } })));
    // The finished item's signal stands: it blocks.
    expect(verdict.signals).toEqual([expect.objectContaining({ item: 0, kind: 'host_match' })]);
    expect(verdict.decision).toBe('block');
    expect(verdict.reasons).toContain('review: partial error scan_deadline on item 1');
    expect(verdict.timings).toMatchObject({ deadline: 100, links: expect.any(Number), total: expect.any(Number) });
  });

  it('is review by default when nothing fired, and waits no longer than the grace for a match that ignores the signal', async () => {
    const hanging: SignalType = { name: 'test-hanging-model', accepts: 'link', match: () => new Promise<never>(() => undefined), versions: () => ({}) };
    const pipeline = new ScanPipeline({ preparers: [new LinkPreparer({ unfurl: false })], registry: new SignalRegistry([hanging]), policy: DEFAULT_POLICY, jobTimeoutMs: 50 });
    const begun = performance.now();
    const verdict = await pipeline.scan(job(['https://good.example/']), run);
    expect(performance.now() - begun).toBeLessThan(50 + DEFAULT_DEADLINE_GRACE_MS + 500);
    expect(verdict).toMatchObject({ decision: 'review', errors: [{ code: 'scan_deadline', item: 0, partial: true }], timings: { deadline: 50 } });
    expect(verdict.items[0]!.details.unansweredSignalTypes).toEqual(['test-hanging-model']);
  });

  it('leaves a job that finishes in time as it was, with no deadline in its timings', async () => {
    const pipeline = new ScanPipeline({ preparers: [new LinkPreparer({ unfurl: false })], registry: new SignalRegistry([hostSignal('evil.example')]), policy: DEFAULT_POLICY, jobTimeoutMs: 5000 });
    const verdict = await pipeline.scan(job(['https://good.example/', 'http://evil.example/']), run);
    expect(verdict).toMatchObject({ decision: 'block', errors: [] });
    expect(verdict.timings.deadline).toBeUndefined();
  });

  it("a run aborted by its caller (a worker's shutdown) still throws the caller's reason, before or after the deadline would pass", async () => {
    for (const jobTimeoutMs of [60_000, 30]) {
      const { preparer } = slowLinks();
      const pipeline = new ScanPipeline({ preparers: [preparer], registry: new SignalRegistry(), policy: DEFAULT_POLICY, itemConcurrency: { link: 1 }, jobTimeoutMs });
      const abort = new AbortController();
      const scan = pipeline.scan(job(items.slice(1)), { ...run, signal: abort.signal });
      if (jobTimeoutMs === 60_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        abort.abort(new Error('the worker gave this job up'));
        await expect(scan).rejects.toMatchObject({ code: 'internal_error', message: 'the worker gave this job up' });
      } else {
        // The deadline passed first: the verdict stands; the worker checks its own signal after.
        const verdict = await scan;
        abort.abort(new Error('too late'));
        expect(verdict.items.map((i) => i.error?.code)).toEqual([undefined, 'scan_deadline', 'scan_deadline', 'scan_deadline']);
      }
    }
  });
});

describe('ScanPipeline past the job deadline: links judged on what needs no network', () => {
  const blocklist = createLinkBlocklistSignalType({
    current: () => new ListMatcher([compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, [canonicalEntry('evil.example')])]),
  });
  /** A model that never answers: registered first, as models are before the lists. */
  const hanging: SignalType = { name: 'test-hanging-model', accepts: 'link', match: () => new Promise<never>(() => undefined), versions: () => ({}) };
  /** Unfurls of links under `/slow` last until the job's signal aborts; others end at once with no hop. */
  function unfurls() {
    const started: string[] = [];
    const cache = new UnfurlCache({
      prefix: 'test',
      unfurl: (input, options) => {
        started.push(input);
        if (!input.includes('/slow')) return Promise.resolve({ input, chain: [], final: null, warnings: [], privateAddressOverride: false });
        return new Promise((_, reject) => options!.signal!.addEventListener('abort', () => reject(options!.signal!.reason as Error), { once: true }));
      },
    });
    return { cache, started };
  }

  it('matches a link whose unfurl was cut, and one never started, on their own URL: a blocklisted one still blocks', async () => {
    const { cache, started } = unfurls();
    const pipeline = new ScanPipeline({ preparers: [new LinkPreparer({ unfurlCache: cache })], registry: new SignalRegistry([blocklist]), policy: DEFAULT_POLICY, itemConcurrency: { link: 2 }, jobTimeoutMs: 100 });
    const items = ['https://evil.example/slow/cut', 'https://good.example/slow', 'https://pad.example/slow', 'http://google.com%2F@evil.example/slow/late'];
    const begun = performance.now();
    const verdict = await pipeline.scan(job(items), run);
    expect(performance.now() - begun).toBeLessThan(1000);
    expect(verdictSchema.parse(verdict)).toEqual(verdict);
    expect(started).toEqual(items.slice(0, 2)); // items 2 and 3 were never unfurled
    expect(verdict.decision).toBe('block');
    // Item 3 by the host a browser visits (its second target), which only its own URL names.
    expect(verdict.signals.map((s) => [s.source, s.kind, s.item, s.evidence.hop])).toEqual([
      ['blocklist', 'domain_match', 0, 0],
      ['blocklist', 'domain_match', 3, 1],
    ]);
    expect(verdict.items.map((i) => [i.index, i.status, i.error?.code, i.details.canonical])).toEqual([
      [0, 'error', 'scan_deadline', 'https://evil.example/slow/cut'],
      [1, 'error', 'scan_deadline', 'https://good.example/slow'],
      [2, 'error', 'scan_deadline', 'https://pad.example/slow'],
      [3, 'error', 'scan_deadline', 'http://google.com/@evil.example/slow/late'],
    ]);
    expect(verdict.items[0]!.details.notFetched).toMatch(/scan deadline passed before it was unfurled/);
    expect(verdict.errors).toEqual([0, 1, 2, 3].map((item) => ({ code: 'scan_deadline', message: expect.any(String), item, partial: true, detail: { jobTimeoutMs: 100 } })));
    expect(verdict.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^block: blocklist\/domain_match on item 0/), expect.stringMatching(/^block: blocklist\/domain_match on item 3/)]));
  });

  it('holds the verdict no longer than the grace for a signal type that hangs, which keeps no other type from answering', async () => {
    const { cache } = unfurls();
    const pipeline = new ScanPipeline({ preparers: [new LinkPreparer({ unfurlCache: cache })], registry: new SignalRegistry([hanging, blocklist]), policy: DEFAULT_POLICY, jobTimeoutMs: 50, deadlineGraceMs: 100 });
    // Item 0 was prepared and matching (stuck on the model) at the deadline; item 1 was unfurling.
    const begun = performance.now();
    const verdict = await pipeline.scan(job(['http://evil.example/quick', 'http://evil.example/slow']), run);
    const elapsed = performance.now() - begun;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
    expect(verdict.decision).toBe('block');
    expect(verdict.signals.map((s) => [s.kind, s.item])).toEqual([
      ['domain_match', 0],
      ['domain_match', 1],
    ]);
    expect(verdict.items.map((i) => [i.status, i.error?.code, i.details.unansweredSignalTypes])).toEqual([
      ['error', 'scan_deadline', ['test-hanging-model']],
      ['error', 'scan_deadline', ['test-hanging-model']],
    ]);
    expect(verdict.items[0]!.details.chain).toEqual([]); // unfurled before the deadline
    expect(verdict.items[1]!.details.notFetched).toEqual(expect.any(String));
  });

  it('an item whose matching answers within the grace is finished; a transient failure past the deadline is recorded, not retried', async () => {
    const late = (answer: () => Signal[]) => () => new Promise<Signal[]>((resolve, reject) => setTimeout(() => {
      try {
        resolve(answer());
      } catch (error) {
        reject(error as Error);
      }
    }, 80));
    const slow: SignalType = { name: 'test-slow-model', accepts: 'link', match: late(() => [{ source: 'model', kind: 'url_score', item: 0, score: 0.5, suggests: 'review', evidence: {} }]), versions: () => ({}) };
    const flaky: SignalType = { name: 'test-flaky-model', accepts: 'link', match: late(() => { throw new ScanError('model_failed', 'busy'); }), versions: () => ({}) };
    const pipeline = new ScanPipeline({ preparers: [new LinkPreparer({ unfurl: false })], registry: new SignalRegistry([slow, flaky]), policy: DEFAULT_POLICY, jobTimeoutMs: 30 });
    const verdict = await pipeline.scan(job(['https://good.example/']), run);
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { failedSignalTypes: ['test-flaky-model'] } });
    expect(verdict.items[0]!.error).toBeUndefined();
    expect(verdict.signals).toEqual([expect.objectContaining({ kind: 'url_score', item: 0 })]);
    expect(verdict.errors).toEqual([{ code: 'model_failed', message: 'busy', item: 0, partial: true, detail: { signalType: 'test-flaky-model' } }]);
    expect(verdict.timings.deadline).toBe(30);
  });

  it('leaves an image cut before its hashes as it was: the deadline error, no signals', async () => {
    const matched: number[] = [];
    const images: ItemPreparer = { kind: 'image', prepare: (_item, _index, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })) };
    const anyImage: SignalType = { name: 'test-any-image', accepts: 'image', match: (_s, item) => (matched.push(item), [{ source: 'hashset', kind: 'pdq_match', item, score: 1, suggests: 'block', evidence: {} }]), versions: () => ({}) };
    const pipeline = new ScanPipeline({ preparers: [images], registry: new SignalRegistry([anyImage]), policy: DEFAULT_POLICY, itemConcurrency: { image: 1 }, jobTimeoutMs: 50 });
    const verdict = await pipeline.scan(job([{ url: 'https://img.example/a.png' }, { url: 'https://img.example/b.png' }]), run);
    expect(matched).toEqual([]);
    expect(verdict).toMatchObject({ decision: 'review', signals: [] });
    expect(verdict.items.map((i) => [i.status, i.error?.code, i.details])).toEqual([
      ['error', 'scan_deadline', {}],
      ['error', 'scan_deadline', {}],
    ]);
  });
});
