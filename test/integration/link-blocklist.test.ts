import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScanClient } from '../../src/client/scan-client.js';
import { loadConfig } from '../../src/config/config.js';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import type { Verdict } from '../../src/jobs/verdict-schema.js';
import { ListStore } from '../../src/lists/list-store.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startFleetWithServer } from '../harness/fleet.js';
import { deletePrefix, suiteRedis, TEST_REDIS_URL, testRedis, uniquePrefix } from '../harness/redis.js';
import { redirect, type TestServer } from './unfurl-servers.js';

describe('link-blocklist signal type in the fleet', () => {
  const prefix = uniquePrefix('blocklist');
  let redis: Redis;
  let store: ListStore;
  let fleet: Awaited<ReturnType<typeof startFleetWithServer>>;
  let client: ScanClient;
  let server: TestServer;

  beforeAll(async () => {
    redis = testRedis();
    store = new ListStore(redis, { prefix });
    fleet = await startFleetWithServer(prefix, (req, res) => {
      if (req.url === '/start') return redirect(res, 302, '/middle');
      if (req.url === '/middle') return redirect(res, 302, '/final');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('landed');
    });
    ({ client, server } = fleet);
  });

  afterAll(async () => {
    await fleet?.stop();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('blocks a link whose intermediate hop is blocklisted, naming list, entry, expression and hop', async () => {
    // Added while the worker runs: it reaches the worker through the hot reload.
    const { version } = await store.add('phish', [{ ...canonicalEntry('127.0.0.1/middle'), label: 'kit-7' }]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { jobId } = await client.enqueue({ contentId: 'hop', surface: 'send', items: [`${server.origin}/start`] });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });

    expect(verdict.decision).toBe('block');
    // Other signal types (models) may add their own signals: these are the blocklist's.
    expect(verdict.signals.filter((s) => s.source === 'blocklist')).toEqual([
      {
        source: 'blocklist',
        kind: 'expression_match',
        item: 0,
        score: 1,
        suggests: 'block',
        evidence: expect.objectContaining({ list: 'phish', listVersion: String(version), entry: '127.0.0.1/middle', expression: '127.0.0.1/middle', hop: 1, url: 'http://127.0.0.1/middle', label: 'kit-7' }),
      },
    ]);
    expect(verdict.versions.lists).toEqual({ phish: String(version) });
    expect(verdict.items[0]!.details.chain).toHaveLength(3);
  });

  it('allows the same link once an allowlist covers the blocklisted hop, naming the allowlist entry and what it overrode', async () => {
    const { version } = await store.add('allow-local', [canonicalEntry('127.0.0.1/middle')], { role: 'allow' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { jobId } = await client.enqueue({ contentId: 'hop-allowed', surface: 'send', items: [`${server.origin}/start`] });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict.signals.filter((s) => s.source === 'blocklist')).toEqual([
      {
        source: 'blocklist',
        kind: 'allowlist_match',
        item: 0,
        score: 1,
        suggests: 'allow',
        evidence: expect.objectContaining({
          list: 'allow-local',
          listVersion: String(version),
          entry: '127.0.0.1/middle',
          hop: 1,
          url: 'http://127.0.0.1/middle',
          overrode: [{ list: 'phish', entry: '127.0.0.1/middle', entryKind: 'expression', suggests: 'block' }],
        }),
      },
    ]);
    expect(verdict.decision).not.toBe('block');
    expect(verdict.reasons).toContain('allow: blocklist/allowlist_match on item 0, score 1.000 (allowlist allow-local entry 127.0.0.1/middle on hop 1; it overrode phish/127.0.0.1/middle)');
  });
});

describe('allowlists win over the URL model', () => {
  const { prefix, redis } = suiteRedis('allowlist-url-model');
  const phishing = 'http://paypal-login-verify-account.com.secure-update.xyz/signin/verify';

  it('an allowlisted URL is not blocked by the URL model; the same URL without the allowlist is', async () => {
    // No unfurling: the link is judged on its text, without reaching the network.
    const config = loadConfig({ ABUSE_SCAN_UNFURL: 'off' }, { redisUrl: TEST_REDIS_URL, prefix });
    const pipeline = await createScanPipeline(config, { logger: createLogger('silent'), connection: redis });
    const scan = (contentId: string) => pipeline.scan({ schemaVersion: 1, contentId, surface: 'test', items: [phishing] }, { jobId: contentId, attempt: 1, finalAttempt: true });
    try {
      const unlisted = await scan('not-allowlisted');
      expect(unlisted.decision).toBe('block');
      expect(unlisted.signals).toEqual([expect.objectContaining({ source: 'model', kind: 'url_model', suggests: 'block', evidence: expect.objectContaining({ hop: 0 }) })]);

      await new ListStore(redis, { prefix }).add('allow-partners', [canonicalEntry('secure-update.xyz')], { role: 'allow' });
      let verdict = await scan('allowlisted');
      for (let n = 0; verdict.decision !== 'allow' && n < 100; n++) {
        await new Promise((resolve) => setTimeout(resolve, 10)); // the replica applies the change within a second
        verdict = await scan(`allowlisted-${n}`);
      }
      expect(verdict.decision).toBe('allow');
      // The model's signal stays as evidence; the policy says the allowlist overrode it.
      expect(verdict.signals.map((s) => [s.source, s.kind, s.suggests])).toEqual([
        ['model', 'url_model', 'block'],
        ['blocklist', 'allowlist_match', 'allow'],
      ]);
      expect(verdict.reasons[0]).toBe('allow: model/url_model on item 0, score 1.000 (block overridden by allowlist allow-partners entry secure-update.xyz on hop 0)');
    } finally {
      await pipeline.close();
    }
  });
});

describe('url entries stored in Redis match under http and https', () => {
  const { prefix, redis } = suiteRedis('blocklist-url-schemes');

  it('blocks the http and scheme-less forms of an https url entry, and an http allowlist entry wins over https, naming the entries as stored', async () => {
    // Written as lists already in Redis hold them: the url entry's field keeps its scheme.
    const store = new ListStore(redis, { prefix });
    await store.add('phish', [
      { kind: 'url', value: 'https://phish.example/login', label: 'kit-11' },
      { kind: 'domain', value: 'partner.example' },
    ]);
    await store.add('allow-partners', [{ kind: 'url', value: 'http://partner.example/landing', reason: 'partner since 2024' }]);
    const config = loadConfig({ ABUSE_SCAN_UNFURL: 'off' }, { redisUrl: TEST_REDIS_URL, prefix });
    const pipeline = await createScanPipeline(config, { logger: createLogger('silent'), connection: redis });
    const scan = (link: string) => pipeline.scan({ schemaVersion: 1, contentId: link, surface: 'test', items: [link] }, { jobId: `j-${link.replace(/[^a-z]/g, '-')}`, attempt: 1, finalAttempt: true });
    try {
      for (const link of ['phish.example/login', 'http://phish.example/login', 'https://phish.example/login']) {
        const verdict = await scan(link);
        expect(verdict.decision, link).toBe('block');
        expect(verdict.signals.filter((s) => s.source === 'blocklist'), link).toEqual([
          expect.objectContaining({
            kind: 'url_match',
            evidence: expect.objectContaining({ list: 'phish', entry: 'https://phish.example/login', entryKind: 'url', label: 'kit-11', hop: 0 }),
          }),
        ]);
      }
      const allowed = await scan('https://partner.example/landing');
      expect(allowed.signals.filter((s) => s.source === 'blocklist')).toEqual([
        expect.objectContaining({
          kind: 'allowlist_match',
          evidence: expect.objectContaining({
            list: 'allow-partners',
            entry: 'http://partner.example/landing',
            entryKind: 'url',
            reason: 'partner since 2024',
            url: 'https://partner.example/landing',
            overrode: [{ list: 'phish', entry: 'partner.example', entryKind: 'domain', suggests: 'block' }],
          }),
        }),
      ]);
      expect(allowed.decision).not.toBe('block');
      expect((await scan('https://partner.example/other')).decision).toBe('block');
    } finally {
      await pipeline.close();
    }
  });
});

describe('hot reload in a running pipeline', () => {
  const { prefix, redis } = suiteRedis('blocklist-reload');

  it('applies a list change to the next scan within one second', async () => {
    const config = loadConfig({ ABUSE_SCAN_UNFURL: 'off' }, { redisUrl: TEST_REDIS_URL, prefix });
    const pipeline = await createScanPipeline(config, { logger: createLogger('silent'), connection: redis });
    const store = new ListStore(redis, { prefix });
    const listed = (verdict: Verdict) => verdict.signals.filter((s) => s.source === 'blocklist');
    const scan = (n: number) => pipeline.scan({ schemaVersion: 1, contentId: `c${n}`, surface: 'test', items: ['https://login.reload.example/x'] }, { jobId: `j${n}`, attempt: 1, finalAttempt: true });
    try {
      expect(listed(await scan(0))).toEqual([]);
      const changedAt = Date.now();
      await store.add('reload', [canonicalEntry('reload.example')], { action: 'review' });
      let n = 1;
      let verdict = await scan(n);
      while (listed(verdict).length === 0 && Date.now() - changedAt < 1000) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        verdict = await scan(++n);
      }
      expect(Date.now() - changedAt).toBeLessThan(1000);
      expect(listed(verdict)).toEqual([expect.objectContaining({ kind: 'domain_match', suggests: 'review', evidence: expect.objectContaining({ list: 'reload', entry: 'reload.example', hop: 0 }) })]);
      expect(verdict.decision).not.toBe('allow');

      await store.remove('reload', [canonicalEntry('reload.example')]);
      const removedAt = Date.now();
      while (listed((verdict = await scan(++n))).length > 0 && Date.now() - removedAt < 1000) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(listed(verdict)).toEqual([]);
    } finally {
      await pipeline.close();
    }
  });
});
