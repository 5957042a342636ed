import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { DEFAULT_USER_AGENT } from '../../src/links/user-agent.js';
import { startInProcessWorker } from '../harness/fleet.js';
import { SMALL_PNG_BASE64 } from '../harness/jobs.js';
import { uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';
import { startServer, unusedPort, type TestServer } from './unfurl-servers.js';

const PNG = Buffer.from(SMALL_PNG_BASE64, 'base64');

describe('image items given by URL, and retries of transient failures', () => {
  const prefix = uniquePrefix('retries');
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;
  let cdn: TestServer;
  const flaky = new Map<string, number>();
  const userAgents: Array<string | undefined> = [];
  const slow = { inFlight: 0, max: 0 };

  beforeAll(async () => {
    cdn = await startServer((req, res) => {
      const path = req.url ?? '';
      if (path.startsWith('/flaky/')) {
        // Fails twice with 503, then serves the image.
        const seen = (flaky.get(path) ?? 0) + 1;
        flaky.set(path, seen);
        if (seen <= 2) return void res.writeHead(503).end();
      }
      userAgents.push(req.headers['user-agent']);
      if (path === '/stall.png') return; // never answers
      if (path === '/missing.png') return void res.writeHead(404).end();
      if (path === '/short/x') return void res.writeHead(302, { location: '/cdn/x.png' }).end();
      if (path === '/short/long') return void res.writeHead(302, { location: `/cdn/${'a'.repeat(5000)}.png` }).end();
      if (path.startsWith('/slow/')) {
        slow.inFlight++;
        slow.max = Math.max(slow.max, slow.inFlight);
        return void setTimeout(() => {
          slow.inFlight--;
          res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
        }, 300);
      }
      if (path === '/moved.png') return void res.writeHead(301, { location: '/flaky/done.png' }).end();
      if (path === '/lies.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end('<html>not an image</html>');
      if (path === '/png-as-html') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PNG);
      if (path === '/huge.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(21 * 1024 * 1024));
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    });
    client = createScanClient({ connection: TEST_REDIS_URL, prefix, attempts: 3, backoffMs: 50 });
    worker = await startInProcessWorker(prefix, {}, { allowPrivateAddressesFor: [`127.0.0.1:${cdn.port}`] });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await cdn?.close();
    await removeTestKeys(prefix);
  });

  const scanImageUrl = async (contentId: string, url: string) => {
    const { jobId } = await client.enqueue({ contentId, surface: 'upload', items: [{ url }] });
    return client.waitForVerdict(jobId, { timeoutMs: 15_000 });
  };

  it('fetches an image through the guard and decodes it', async () => {
    const verdict = await scanImageUrl('plain', `${cdn.origin}/ok.png`);
    expect(verdict.items[0]).toMatchObject({ kind: 'image', status: 'ok', details: { format: 'png', width: 8 } });
    expect(verdict.attempt).toBe(1);
  });

  it("says where a URL's bytes came from after redirects (a shortener hides the host that served them), and sends the unfurler's User-Agent", async () => {
    userAgents.length = 0;
    const verdict = await scanImageUrl('shortened', `${cdn.origin}/short/x`);
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { fetchedFrom: `${cdn.origin}/cdn/x.png`, redirects: 1 } });
    expect(userAgents).toEqual([DEFAULT_USER_AGENT, DEFAULT_USER_AGENT]);
  });

  it('records where a long redirect target served the bytes cut at 2,048 characters (a server chose its length)', async () => {
    const verdict = await scanImageUrl('shortened-long', `${cdn.origin}/short/long`);
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { fetchedFrom: `${cdn.origin}/cdn/${'a'.repeat(2048 - cdn.origin.length - 5)}…`, redirects: 1 } });
  });

  it("fetches a job's image URLs 4 at a time (2 at a time, eight slow ones took four rounds)", async () => {
    const items = Array.from({ length: 8 }, (_, i) => ({ url: `${cdn.origin}/slow/${i}.png` }));
    const { jobId } = await client.enqueue({ contentId: 'eight-slow', surface: 'upload', items });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 15_000 });
    expect(verdict.items.map((item) => item.status)).toEqual(items.map(() => 'ok'));
    expect(slow.max).toBe(4);
  });

  it('gives up an image URL at ABUSE_SCAN_IMAGE_FETCH_TIMEOUT_MS (fetch_timeout, retried), not at a fixed 15 s', async () => {
    const quickPrefix = uniquePrefix('image-fetch-deadline');
    const quickClient = createScanClient({ connection: TEST_REDIS_URL, prefix: quickPrefix, attempts: 2, backoffMs: 50 });
    const quick = await startInProcessWorker(quickPrefix, { imageFetchTimeoutMs: 400 }, { allowPrivateAddressesFor: [`127.0.0.1:${cdn.port}`] });
    try {
      const { jobId } = await quickClient.enqueue({ contentId: 'stalled', surface: 'upload', items: [{ url: `${cdn.origin}/stall.png` }] });
      const verdict = await quickClient.waitForVerdict(jobId, { timeoutMs: 10_000 });
      expect(verdict).toMatchObject({ attempt: 2, errors: [expect.objectContaining({ code: 'fetch_timeout', item: 0 })] });
      expect(verdict.timings.images).toBeLessThan(2000);
    } finally {
      await quick.stop();
      await quickClient.close();
      await removeTestKeys(quickPrefix);
    }
  });

  it('retries a transient failure with backoff and succeeds on the third attempt', async () => {
    const verdict = await scanImageUrl('flaky', `${cdn.origin}/flaky/a.png`);
    expect(verdict).toMatchObject({ decision: 'allow', attempt: 3, errors: [] });
    expect(flaky.get('/flaky/a.png')).toBe(3);
  });

  it('keeps the address guard port-scoped: another port on 127.0.0.1 is refused', async () => {
    const port = await unusedPort();
    const verdict = await scanImageUrl('refused', `http://127.0.0.1:${port}/a.png`);
    expect(verdict.errors[0]).toMatchObject({ code: 'blocked_address' });
    expect(verdict.attempt).toBe(1);
  });

  it('records the last transient error, for review, when the server fails through every attempt', async () => {
    flaky.set('/flaky/never.png', -1_000_000);
    const verdict = await scanImageUrl('down', `${cdn.origin}/flaky/never.png`);
    expect(verdict.attempt).toBe(3);
    expect(verdict.errors).toEqual([expect.objectContaining({ code: 'fetch_failed', item: 0 })]);
    expect(verdict.decision).toBe('review');
  });

  it.each([
    ['a 404', '/missing.png', 'http_error'],
    ['a body that lies about being a PNG (HTML markup)', '/lies.png', 'image_format_refused'],
    ['a body over the byte cap', '/huge.png', 'payload_too_large'],
  ])('gives a typed error at once, without retry, for %s', async (_name, path, code) => {
    const verdict = await scanImageUrl(`bad-${path}`, `${cdn.origin}${path}`);
    expect(verdict.errors).toEqual([expect.objectContaining({ code, item: 0 })]);
    expect(verdict.attempt).toBe(1);
  });

  it('trusts the bytes, not the Content-Type: a PNG served as text/html decodes', async () => {
    const verdict = await scanImageUrl('mislabelled', `${cdn.origin}/png-as-html`);
    expect(verdict.items[0]).toMatchObject({ status: 'ok', details: { format: 'png' } });
  });

  it('refuses image URLs pointing at cloud metadata', async () => {
    const verdict = await scanImageUrl('metadata', 'http://169.254.169.254/latest/meta-data/');
    expect(verdict.errors[0]).toMatchObject({ code: 'blocked_address' });
  });
});
