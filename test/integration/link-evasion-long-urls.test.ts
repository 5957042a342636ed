import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobLimits, loadConfig } from '../../src/config/config.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { html, redirect, startServer, type TestServer } from './unfurl-servers.js';

/**
 * A blocklisted link cannot get past its block by being long: every link a job accepts (its URL
 * limit counts characters, ABUSE_SCAN_MAX_URL_LENGTH) is matched at least by host and registrable
 * domain, whatever its percent-encoded forms (the canonical form, a browser's href) grow to.
 * fixtures/lists/demo-blocklist.txt blocks evil.example.
 */

const LISTS_DIR = new URL('../../fixtures/lists', import.meta.url).pathname;

async function scanWith(env: Record<string, string>, link: string, allowPrivateAddressesFor?: string[]) {
  const config = loadConfig({ ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_LISTS_DIR: LISTS_DIR, ...env });
  const pipeline: ScanPipeline = await createScanPipeline(config, { logger: createLogger('silent'), ...(allowPrivateAddressesFor && { allowPrivateAddressesFor }) });
  try {
    // As the worker does: the job is validated under the configured limits first.
    const job = validateJob({ contentId: 'c', surface: 's', items: [link] }, { limits: jobLimits(config) });
    return await pipeline.scan(job, { jobId: 'j', attempt: 1, finalAttempt: true });
  } finally {
    await pipeline.close();
  }
}

const blockedEvil = (verdict: Awaited<ReturnType<typeof scanWith>>) => {
  expect(verdict.decision).toBe('block');
  expect(verdict.signals).toContainEqual(expect.objectContaining({ kind: 'domain_match', suggests: 'block', evidence: expect.objectContaining({ entry: 'evil.example' }) }));
};

describe('long links keep their block (unfurling off)', () => {
  it('a host hidden behind userinfo-like text, whose browser href is over the limit, is still blocked', async () => {
    const link = `http://good.example%2F@evil.example/${'ж'.repeat(1500)}`; // 1536 characters, href ~9020
    const verdict = await scanWith({ ABUSE_SCAN_UNFURL: 'off' }, link);
    blockedEvil(verdict);
    expect(verdict.errors).toEqual([]);
    expect(verdict.items[0]!.details).toMatchObject({ host: 'good.example', visitedCut: 'http://evil.example/' });
  });

  it('a link under the character limit but over it in UTF-8 bytes is blocked, not sent to review without evidence', async () => {
    const link = `https://evil.example/${'ж'.repeat(4100)}`; // 4121 characters, 8221 bytes
    const verdict = await scanWith({ ABUSE_SCAN_UNFURL: 'off' }, link);
    blockedEvil(verdict);
    expect(verdict.errors).toEqual([]);
  });

  it('ABUSE_SCAN_MAX_URL_LENGTH reaches the link preparer: a 10021-character link the job accepts is matched', async () => {
    const link = `https://evil.example/${'a'.repeat(10_000)}`;
    const verdict = await scanWith({ ABUSE_SCAN_UNFURL: 'off', ABUSE_SCAN_MAX_URL_LENGTH: '16384' }, link);
    blockedEvil(verdict);
    expect(verdict.errors).toEqual([]);
  });

  it.each(['ж', '例', '😀'])('a link of %s at the default job limit is blocked on its host', async (char) => {
    const prefix = 'http://good.example%2F@evil.example/';
    const link = prefix + char.repeat(Math.floor((8192 - prefix.length) / char.length));
    const verdict = await scanWith({ ABUSE_SCAN_UNFURL: 'off' }, link);
    blockedEvil(verdict);
  });
});

describe('long links are unfurled under the configured limit', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer((_req, res) => html(res, '<html>landing</html>'));
  });

  afterAll(async () => {
    await server.close();
  });

  it('ABUSE_SCAN_MAX_URL_LENGTH reaches the unfurler: a 10000-character path is fetched, no url_too_long', async () => {
    const path = `/${'a'.repeat(10_000)}`;
    const verdict = await scanWith({ ABUSE_SCAN_MAX_URL_LENGTH: '16384' }, `${server.origin}${path}`, [`127.0.0.1:${server.port}`]);
    expect(verdict.errors).toEqual([]);
    expect(server.requests).toContain(path);
    expect(verdict.items[0]!.details.chain).toEqual([expect.objectContaining({ status: 200 })]);
  });
});

describe('a long redirector is followed to its blocklisted destination', () => {
  let server: TestServer;
  let listsDir: string;

  beforeAll(async () => {
    server = await startServer((req, res) => ((req.url ?? '').startsWith('/r?') ? redirect(res, 302, '/landing/') : html(res, '<html>landing</html>')));
    listsDir = await mkdtemp(join(tmpdir(), 'abuse-scan-long-redirector-'));
    await writeFile(join(listsDir, 'phish.txt'), '127.0.0.1/landing/\n');
  });

  afterAll(async () => {
    await server.close();
    await rm(listsDir, { recursive: true, force: true });
  });

  it('1400 non-ASCII characters in its query (href over the limit, link within it): blocked, not url_too_long', async () => {
    const link = `${server.origin}/r?q=${'ж'.repeat(1400)}`; // 1427 characters, href ~8430
    expect(new URL(link).href.length).toBeGreaterThan(8192);
    const verdict = await scanWith({ ABUSE_SCAN_LISTS_DIR: listsDir }, link, [`127.0.0.1:${server.port}`]);
    expect(verdict.errors).toEqual([]);
    expect(verdict.decision).toBe('block');
    expect(verdict.signals).toContainEqual(expect.objectContaining({ kind: 'expression_match', suggests: 'block', evidence: expect.objectContaining({ entry: '127.0.0.1/landing/', url: 'http://127.0.0.1/landing/' }) }));
  });
});
