import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { unfurl } from '../../src/links/unfurl.js';
import { html, notFound, redirect, serveDuringTests, watchConnectAttempts } from './unfurl-servers.js';

const served = serveDuringTests((req, res) => {
  // Requests the Safe Browsing canonical form merges with the next hop's, matched raw.
  if (req.url === '//landing') return redirect(res, 301, '/landing');
  if (req.url === '/%7Euser/') return redirect(res, 301, '/~user/');
  if (req.url === '/~user/') return redirect(res, 302, '/landing');
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname;
  const chain = /^\/chain\/(\d+)$/.exec(path);
  if (chain) {
    // /chain/N redirects to /chain/N-1 with a different redirect status each time; /chain/0 is the page.
    const n = Number(chain[1]);
    if (n === 0) return html(res, '<html><title>landing</title></html>');
    const statuses = [301, 302, 303, 307, 308];
    return redirect(res, statuses[n % statuses.length]!, n % 2 === 0 ? `/chain/${n - 1}` : `${served.server.origin}/chain/${n - 1}`);
  }
  switch (path) {
    case '/meta':
      return html(res, `<html><head><!-- <meta http-equiv="refresh" content="0;url=/decoy"> -->
          <META HTTP-EQUIV="Refresh" CONTENT="0; URL='/landing?from=meta'"></head></html>`);
    case '/meta-gzip': {
      const body = zlib.gzipSync('<meta http-equiv=refresh content="3;url=/landing">');
      res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': String(body.length) });
      return res.end(body);
    }
    case '/refresh-header':
      res.writeHead(200, { refresh: '1; url=/landing', 'content-type': 'text/plain', 'content-length': '0' });
      return res.end();
    case '/meta-self':
      return html(res, '<meta http-equiv="refresh" content="30; url=/meta-self">');
    case '/then-meta':
      return redirect(res, 302, '/meta');
    case '/landing':
      return html(res, 'landing');
    case '/loop-a':
      return redirect(res, 302, '/loop-b');
    case '/loop-b':
      return redirect(res, 302, '/loop-a');
    case '/self':
      return redirect(res, 301, '/self');
    case '/no-location':
      res.writeHead(302, { 'content-length': '0' });
      return res.end();
    case '/to-javascript':
      return redirect(res, 302, 'javascript:alert(document.cookie)');
    case '/to-data':
      return redirect(res, 302, 'data:text/html,<script>alert(1)</script>');
    case '/not-modified':
      res.writeHead(304);
      return res.end();
    default:
      return notFound(res);
  }
});

describe('unfurl: HTTP redirects', () => {
  it('follows a 5-hop chain, recording every hop', async () => {
    const result = await unfurl(`${served.server.origin}/chain/5`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => h.status)).toEqual([301, 308, 307, 303, 302, 200]);
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/chain/5', '/chain/4', '/chain/3', '/chain/2', '/chain/1', '/chain/0']);
    expect(result.final).toEqual({ url: `${served.server.origin}/chain/0`, canonical: 'http://127.0.0.1/chain/0', fetched: true });
    for (const hop of result.chain) {
      expect(hop.address).toBe('127.0.0.1');
      expect(hop.canonical).toBe(`http://127.0.0.1${new URL(hop.url).pathname}`);
      expect(hop.durationMs).toBeGreaterThanOrEqual(0);
      expect(hop.viaPrivateAddressOverride).toBe(true);
    }
    expect(result.chain[0]!.redirect).toEqual({ kind: 'http', location: `${served.server.origin}/chain/4` });
    expect(result.chain[5]!.redirect).toBeUndefined();
    expect(result.privateAddressOverride).toBe(true);
    expect(result.warnings.join(' ')).toMatch(/OVERRIDDEN/);
  });

  it('reads input without a scheme as http, host:port included', async () => {
    for (const input of [`127.0.0.1:${served.server.port}/chain/0`, `localhost:${served.server.port}/chain/0`]) {
      const result = await unfurl(input, served.options);
      expect(result.error).toBeUndefined();
      expect(result.chain).toMatchObject([{ status: 200, address: '127.0.0.1' }]);
      expect(result.chain[0]!.url).toMatch(/^http:\/\/(127\.0\.0\.1|localhost):\d+\/chain\/0$/);
    }
  });

  it('follows a link with control characters as a browser does: stripped before the scheme, percent-encoded in the path', async () => {
    const result = await unfurl(`\x01${served.server.origin}/chain/2\x02`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/chain/2', '/chain/1', '/chain/0']);
    const escaped = await unfurl(`${served.server.origin}/landing\x01x`, served.options);
    expect(escaped.chain.map((h) => h.url)).toEqual([`${served.server.origin}/landing%01x`]);
  });

  it('accepts exactly 10 redirects (the default limit)', async () => {
    const result = await unfurl(`${served.server.origin}/chain/10`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain).toHaveLength(11);
    expect(result.final?.url).toBe(`${served.server.origin}/chain/0`);
  });

  it('stops at the 11th redirect with too_many_redirects, keeping the chain', async () => {
    const result = await unfurl(`${served.server.origin}/chain/11`, served.options);
    expect(result.error?.code).toBe('too_many_redirects');
    expect(result.chain).toHaveLength(11);
    expect(result.chain.every((h) => h.status >= 300 && h.status < 400)).toBe(true);
    expect(result.final).toEqual({ url: `${served.server.origin}/chain/0`, canonical: 'http://127.0.0.1/chain/0', fetched: false });
  });

  it('honours a smaller maxRedirects', async () => {
    const result = await unfurl(`${served.server.origin}/chain/3`, { ...served.options, maxRedirects: 2 });
    expect(result.error?.code).toBe('too_many_redirects');
    expect(result.chain).toHaveLength(3);
  });

  it('detects a loop', async () => {
    const result = await unfurl(`${served.server.origin}/loop-a`, served.options);
    expect(result.error?.code).toBe('redirect_loop');
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/loop-a', '/loop-b']);
    expect(result.final).toMatchObject({ url: `${served.server.origin}/loop-a`, fetched: false });
  });

  it.each([
    ['//landing', ['//landing', '/landing']],
    ['/%7Euser/', ['/%7Euser/', '/~user/', '/landing']],
  ])('follows %s to a URL with the same canonical form: a different request, not a loop', async (path, requested) => {
    const before = served.server.requests.length;
    const result = await unfurl(`${served.server.origin}${path}`, served.options);
    expect(result.error).toBeUndefined();
    expect(served.server.requests.slice(before)).toEqual(requested);
    expect(result.final).toMatchObject({ url: `${served.server.origin}/landing`, fetched: true });
  });

  it('detects a redirect to itself', async () => {
    const result = await unfurl(`${served.server.origin}/self`, served.options);
    expect(result.error?.code).toBe('redirect_loop');
    expect(result.chain).toHaveLength(1);
  });

  it('ends the chain at a redirect status without Location: a page, as in Fetch, not an error', async () => {
    const result = await unfurl(`${served.server.origin}/no-location`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => h.status)).toEqual([302]);
    expect(result.chain[0]!.redirect).toBeUndefined();
    expect(result.final).toMatchObject({ url: `${served.server.origin}/no-location`, fetched: true });
  });

  it('treats 304 as final', async () => {
    const result = await unfurl(`${served.server.origin}/not-modified`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => h.status)).toEqual([304]);
  });

  it.each([
    ['/to-javascript', 'javascript:alert(document.cookie)'],
    ['/to-data', 'data:text/html,<script>alert(1)</script>'],
  ])('refuses to follow %s without fetching, and reports the target', async (path, target) => {
    const before = served.server.requests.length;
    const result = await unfurl(`${served.server.origin}${path}`, served.options);
    expect(result.error?.code).toBe('unsupported_scheme');
    expect(result.chain).toHaveLength(1);
    expect(result.final).toEqual({ url: target, canonical: null, fetched: false });
    expect(served.server.requests.length - before).toBe(1);
  });
});

describe('unfurl: meta refresh', () => {
  it('follows <meta http-equiv="refresh"> and ignores the one in a comment', async () => {
    const result = await unfurl(`${served.server.origin}/meta`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((h) => new URL(h.url).pathname)).toEqual(['/meta', '/landing']);
    expect(result.chain[0]!.redirect).toEqual({ kind: 'meta-refresh', location: `${served.server.origin}/landing?from=meta`, delaySeconds: 0 });
    expect(result.chain[0]!.body).toMatchObject({ truncated: false });
    expect(result.final?.url).toBe(`${served.server.origin}/landing?from=meta`);
  });

  it('reads a gzip-encoded page and follows a delayed refresh at once', async () => {
    const started = performance.now();
    const result = await unfurl(`${served.server.origin}/meta-gzip`, served.options);
    expect(result.chain[0]!.redirect).toMatchObject({ kind: 'meta-refresh', delaySeconds: 3 });
    expect(result.final?.url).toBe(`${served.server.origin}/landing`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('mixes HTTP redirects and meta refresh in one chain', async () => {
    const result = await unfurl(`${served.server.origin}/then-meta`, served.options);
    expect(result.chain.map((h) => h.redirect?.kind ?? 'final')).toEqual(['http', 'meta-refresh', 'final']);
  });

  it('follows a Refresh response header', async () => {
    const result = await unfurl(`${served.server.origin}/refresh-header`, served.options);
    expect(result.chain[0]!.redirect).toEqual({ kind: 'refresh-header', location: `${served.server.origin}/landing`, delaySeconds: 1 });
    expect(result.final).toMatchObject({ url: `${served.server.origin}/landing`, fetched: true });
  });

  it('treats a refresh to the page itself as a reload, not a loop', async () => {
    const result = await unfurl(`${served.server.origin}/meta-self`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain).toHaveLength(1);
  });

  it('does not follow meta refresh when disabled', async () => {
    const result = await unfurl(`${served.server.origin}/meta`, { ...served.options, followMetaRefresh: false });
    expect(result.chain).toHaveLength(1);
    expect(result.chain[0]!.body).toBeUndefined();
  });
});

describe('unfurl: inputs that are never fetched', () => {
  it.each([
    ['javascript:alert(1)', 'unsupported_scheme'],
    ['data:text/html;base64,PHNjcmlwdD4=', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['ftp://ftp.example.com/pub/', 'unsupported_scheme'],
    ['', 'invalid_url'],
    ['http://[fe80::1%25eth0]/', 'invalid_host'],
    [`http://example.com/${'a'.repeat(100 * 1024)}`, 'url_too_long'],
  ])('%s -> %s, no connection, no throw', async (input, code) => {
    const watch = watchConnectAttempts();
    try {
      const result = await unfurl(input);
      expect(result.error?.code).toBe(code);
      expect(result.chain).toEqual([]);
      expect(watch.attempts).toEqual([]);
    } finally {
      watch.stop();
    }
  });

  it('refuses an override that is not a literal IP', async () => {
    await expect(unfurl('http://example.com/', { allowPrivateAddressesFor: ['localhost'] })).rejects.toThrow(TypeError);
    await expect(unfurl('http://example.com/', { allowPrivateAddressesFor: ['127.0.0.0/8'] })).rejects.toThrow(TypeError);
    await expect(unfurl('http://example.com/', { allowPrivateAddressesFor: ['2130706433'] })).rejects.toThrow(TypeError);
  });
});
