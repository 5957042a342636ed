import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { MAX_RESPONSE_HEADER_BYTES } from '../../src/links/guard/connector.js';
import { unfurl } from '../../src/links/unfurl.js';
import { html, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * Response headers as large as browsers take them (Chromium: 256 KiB). At undici's default of
 * 16 KiB, a redirector padding its 302 with one 20 KB header hid its target from every scan: the
 * hop failed as `fetch_failed`, which the default policy allows.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startServer((req, res) => {
    const pad = (bytes: number) => ({ 'x-pad': 'a'.repeat(bytes) });
    switch (req.url) {
      case '/padded-redirect':
        return void res.writeHead(302, { location: '/landing', 'content-length': '0', ...pad(20_000) }).end();
      case '/over-browsers':
        return void res.writeHead(302, { location: '/landing', 'content-length': '0', ...pad(MAX_RESPONSE_HEADER_BYTES + 1024) }).end();
      default:
        return html(res, '<p>landed</p>');
    }
  });
});
afterAll(async () => server.close());

describe('unfurl: large response headers', () => {
  it('follows a redirect whose headers take 20 KB, as browsers do', async () => {
    const result = await unfurl(`${server.origin}/padded-redirect`, unfurlOptionsFor(server));
    expect(result.error).toBeUndefined();
    expect(result.final?.url).toBe(`${server.origin}/landing`);
    expect(result.chain.map((hop) => hop.status)).toEqual([302, 200]);
  });

  it('ends the chain with headers_too_large (permanent), not fetch_failed, past what browsers take', async () => {
    const result = await unfurl(`${server.origin}/over-browsers`, unfurlOptionsFor(server));
    expect(result.error).toMatchObject({ code: 'headers_too_large', detail: { cause: 'UND_ERR_HEADERS_OVERFLOW' } });
    expect(ERROR_CODES.headers_too_large.permanent).toBe(true);
  });
});
