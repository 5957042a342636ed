/**
 * A redirector that sends an interim response first: `100 Continue` (undici destroys the
 * connection on a 100 it did not ask for: SocketError `bad response`) or `101 Switching Protocols`
 * to a request that asked for no upgrade (`bad upgrade`). Both ended the chain in `fetch_failed`,
 * which the default policy allows as an unreachable server, while Chromium skips every interim
 * response (HttpNetworkTransaction::DoReadHeadersComplete) and follows the redirect after it: a
 * blocklisted landing passed as clean. The guarded connector now drops the interim responses a
 * connection starts with, within the header cap and the hop timeout.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, jobLimits } from '../../src/config/config.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { unfurl } from '../../src/links/unfurl.js';
import { fetchImage } from '../../src/links/fetch-image.js';
import { MAX_INTERIM_RESPONSES } from '../../src/links/guard/connector.js';
import { INTERIM_RESPONSES_OVERFLOW, STATUS_LINE_JUNK } from '../../src/links/guard/network-errors.js';
import { localHttpsOptions, startHttpsServer, trustTestCertificate, type TestHttpsServer } from './unfurl-https-servers.js';
import { html, serveDuringTests, visitServer } from './unfurl-servers.js';

const REDIRECT = 'HTTP/1.1 302 Found\r\nLocation: /landing/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n';

/** Raw answers: interim responses, then the redirect. */
const INTERIM: Record<string, string> = {
  '/continue': CONTINUE + REDIRECT,
  '/continue-with-headers': 'HTTP/1.1 100 Continue\r\nX-Note: one\r\nX-Other: two\r\n\r\n' + REDIRECT,
  '/continue-bare-lf': 'HTTP/1.1 100 Continue\n\n' + REDIRECT,
  '/switching-h2c': SWITCHING + REDIRECT,
  '/several': CONTINUE + 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n' + SWITCHING + CONTINUE + REDIRECT,
  // Line ends before a status line, which undici's parser (and Chromium, up to 4) skips.
  '/crlf-continue': '\r\n' + CONTINUE + REDIRECT,
  '/lf-between': '\n' + CONTINUE + '\r\n\r\n' + 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n' + '\n' + REDIRECT,
};

/** Writes `pieces` one by one, `delayMs` apart, then ends the socket. */
function trickle(socket: Socket, pieces: string[], delayMs: number): void {
  const [first, ...rest] = pieces;
  if (first === undefined) return void socket.end();
  socket.write(first, () => setTimeout(() => trickle(socket, rest, delayMs), delayMs));
}

/** Interim blocks of ~200 KiB (each under the header cap), or tiny ones: their bytes, or their count, past the caps. */
const FLOOD_BLOCKS: Record<string, Buffer> = {
  '/flood-continue': Buffer.from(`HTTP/1.1 100 Continue\r\nX-Pad: ${'a'.repeat(200 * 1024)}\r\n\r\n`),
  '/flood-early-hints': Buffer.from(`HTTP/1.1 103 Early Hints\r\nLink: <${'a'.repeat(200 * 1024)}>; rel=preload\r\n\r\n`),
  '/flood-small-continue': Buffer.from(CONTINUE),
  '/flood-small-early-hints': Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n'),
  // After a line end (FLOOD_LEADS): undici's parser skips it, and then skipped 103s itself.
  '/flood-crlf-early-hints': Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n'),
  '/flood-lf-continue': Buffer.from(CONTINUE),
};
/** What a flood's connection writes once before its blocks. */
const FLOOD_LEADS: Record<string, string> = { '/flood-crlf-early-hints': '\r\n', '/flood-lf-continue': '\n' };
/** The bytes each flood's connection wrote (kernel buffers included), known when it closed. */
const floodWritten: Array<Promise<number>> = [];

/** Writes `block` as fast as the connection takes it, until it closes. */
function flood(socket: Socket, block: Buffer, lead = ''): void {
  floodWritten.push(new Promise((resolve) => socket.once('close', () => resolve(socket.bytesWritten))));
  if (lead) socket.write(lead);
  const write = () => {
    while (!socket.destroyed && socket.write(block));
  };
  socket.on('drain', write);
  socket.on('error', () => undefined);
  write();
}

const served = serveDuringTests((req, res) => {
  const path = req.url ?? '';
  const raw = INTERIM[path];
  if (raw !== undefined) return void req.socket.end(raw);
  if (path === '/landing/') return html(res, '<p>landing</p>');
  if (path === '/plain') return void req.socket.end(REDIRECT);
  // The interim response arrives in pieces, split inside its status line and its blank line.
  if (path === '/split') return trickle(req.socket, ['HT', 'TP/1.1 1', '00 Continue\r', '\n', '\r\nHTTP/1.1 302 Found\r\nLoc', 'ation: /landing/\r\nContent-Length: 0\r\n\r\n'], 20);
  // One interim response with more header bytes than any browser takes: the header cap holds.
  if (path === '/huge-continue') return void req.socket.end(`HTTP/1.1 100 Continue\r\nX-Pad: ${'a'.repeat(300 * 1024)}\r\n\r\n${REDIRECT}`);
  // Interim responses for ever, slowly (fewer than MAX_INTERIM_RESPONSES in the hop timeout): the hop timeout holds.
  if (path === '/endless-continue') {
    const timer = setInterval(() => req.socket.write(CONTINUE), 50);
    req.socket.on('close', () => clearInterval(timer));
    return;
  }
  const block = FLOOD_BLOCKS[path];
  if (block !== undefined) return flood(req.socket, block, FLOOD_LEADS[path]);
  // More line ends before the status line than Chromium skips (4): no HTTP/1.x response to it.
  if (path === '/junk-continue') return void req.socket.end('\r\n\r\n\r\n' + CONTINUE + REDIRECT);
  // As many interim responses as are skipped, then the redirect.
  if (path === '/most-continue') return void req.socket.end(CONTINUE.repeat(MAX_INTERIM_RESPONSES) + REDIRECT);
  // An interim response and then nothing: as Chromium (an empty response), a failure.
  if (path === '/continue-then-close') return void req.socket.end(CONTINUE);
  // A final 1xx-looking status that is not one (1000): left to undici's parser.
  res.writeHead(404).end();
});

describe('unfurl: interim responses before the redirect', () => {
  it.each([...Object.keys(INTERIM), '/split'])('%s: the interim responses are skipped and the redirect followed', async (path) => {
    const { result, requested } = await visitServer(served.server, path, served.options);
    expect(result.error).toBeUndefined();
    expect(requested).toEqual([path, '/landing/']);
    expect(result.chain.map((hop) => hop.status)).toEqual([302, 200]);
    expect(result.final).toMatchObject({ url: `${served.server.origin}/landing/`, fetched: true });
  });

  it('an interim response over the header cap ends the chain with headers_too_large, as before', async () => {
    const { result, requested } = await visitServer(served.server, '/huge-continue', served.options);
    expect(result.error).toMatchObject({ code: 'headers_too_large' });
    expect(requested).toEqual(['/huge-continue']);
  });

  it('interim responses sent for ever end with fetch_timeout at the hop timeout', async () => {
    const started = performance.now();
    const { result } = await visitServer(served.server, '/endless-continue', { ...served.options, hopTimeoutMs: 600 });
    expect(result.error).toMatchObject({ code: 'fetch_timeout' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it(`${MAX_INTERIM_RESPONSES} interim responses are skipped, and the redirect followed`, async () => {
    const { result, requested } = await visitServer(served.server, '/most-continue', served.options);
    expect(result.error).toBeUndefined();
    expect(requested).toEqual(['/most-continue', '/landing/']);
  });

  it.each(Object.keys(FLOOD_BLOCKS))(
    '%s: interim responses streamed for ever end the hop at once with headers_too_large (their bytes or their count capped per connection), no retry',
    async (path) => {
      const started = performance.now();
      const { result, requested } = await visitServer(served.server, path, served.options);
      const elapsed = performance.now() - started;
      // headers_too_large is permanent (errors.ts): the job is not retried to pay the flood again.
      expect(result.error).toMatchObject({ code: 'headers_too_large', detail: { cause: INTERIM_RESPONSES_OVERFLOW } });
      expect(requested).toEqual([path]);
      expect(elapsed).toBeLessThan(1_000);
      expect(await floodWritten.at(-1)).toBeLessThan(8 * 1024 * 1024);
    },
  );

  it.each(Object.keys(FLOOD_BLOCKS))('%s: an image URL fetch (same connector) fails at once with headers_too_large, not fetch_timeout', async (path) => {
    const started = performance.now();
    const error = await fetchImage(`${served.server.origin}${path}`, { maxBytes: 1024 * 1024, timeoutMs: 3_000, allowPrivateAddressesFor: served.options.allowPrivateAddressesFor }).then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'headers_too_large', permanent: true, detail: { cause: INTERIM_RESPONSES_OVERFLOW } });
    expect(elapsed).toBeLessThan(1_000);
    expect(await floodWritten.at(-1)).toBeLessThan(8 * 1024 * 1024);
  });

  it('more line ends before the status line than Chromium skips end the chain with the permanent bad_response', async () => {
    const { result, requested } = await visitServer(served.server, '/junk-continue', served.options);
    expect(result.error).toMatchObject({ code: 'bad_response', detail: { cause: STATUS_LINE_JUNK } });
    expect(requested).toEqual(['/junk-continue']);
  });

  it('an interim response and then the connection closed is fetch_failed (Chromium: an empty response)', async () => {
    const { result } = await visitServer(served.server, '/continue-then-close', served.options);
    expect(result.error).toMatchObject({ code: 'fetch_failed' });
  });
});

describe('unfurl: interim responses over https', () => {
  let secure: TestHttpsServer;
  let untrust: () => void;
  beforeAll(async () => {
    untrust = trustTestCertificate();
    secure = await startHttpsServer((req, res) => {
      if (req.url === '/landing/') return html(res, '<p>landing</p>');
      req.socket.end(INTERIM[req.url ?? ''] ?? REDIRECT);
    });
  });
  afterAll(async () => {
    await secure.close();
    untrust();
  });

  it.each(['/continue', '/several'])('%s: skipped on a TLS connection too, the redirect followed', async (path) => {
    const result = await unfurl(`https://phish-kit.app:${secure.port}${path}`, localHttpsOptions(secure, secure, { asDefaultPorts: false }));
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => hop.status)).toEqual([302, 200]);
    expect(secure.requests.slice(-2)).toEqual([`phish-kit.app ${path}`, 'phish-kit.app /landing/']);
  });
});

describe('a redirector answering 100 Continue first is followed to its blocklisted landing', () => {
  let listsDir: string;

  beforeAll(async () => {
    listsDir = await mkdtemp(join(tmpdir(), 'abuse-scan-interim-'));
    await writeFile(join(listsDir, 'phish.txt'), '127.0.0.1/landing/\n');
  });

  afterAll(async () => {
    await rm(listsDir, { recursive: true, force: true });
  });

  it.each(['/plain', '/continue', '/switching-h2c', '/crlf-continue'])('%s -> block', async (path) => {
    const config = loadConfig({ ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_LISTS_DIR: listsDir });
    const pipeline = await createScanPipeline(config, { logger: createLogger('silent'), allowPrivateAddressesFor: [`127.0.0.1:${served.server.port}`] });
    try {
      const job = validateJob({ contentId: 'c', surface: 's', items: [`${served.server.origin}${path}`] }, { limits: jobLimits(config) });
      const verdict = await pipeline.scan(job, { jobId: 'j', attempt: 1, finalAttempt: true });
      expect(verdict.errors).toEqual([]);
      expect(verdict.decision).toBe('block');
      expect(verdict.signals).toContainEqual(expect.objectContaining({ kind: 'expression_match', suggests: 'block', evidence: expect.objectContaining({ entry: '127.0.0.1/landing/' }) }));
    } finally {
      await pipeline.close();
    }
  });
});
