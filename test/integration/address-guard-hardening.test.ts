import net, { type AddressInfo } from 'node:net';
import { EnvHttpProxyAgent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { html, lookupAnswering, startServer, startSibling, type TestServer } from './unfurl-servers.js';

/**
 * Adversarial checks of the unfurler's guard beyond single answers and single hops: DNS answers
 * mixing allowed and refused addresses, a name that re-resolves between connections, refresh
 * targets, and proxy settings in the environment.
 */

let site: TestServer;
let internal: TestServer;
let sibling: Awaited<ReturnType<typeof startSibling>>;
let options: UnfurlOptions;

beforeAll(async () => {
  internal = await startServer((_req, res) => html(res, 'internal admin page'));
  site = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const to = (url.searchParams.get('to') ?? '').replace('INTERNAL', String(internal.port));
    switch (url.pathname) {
      case '/hop':
        res.writeHead(302, { location: '/landing', connection: 'close', 'content-length': '0' });
        return res.end();
      case '/meta':
        return html(res, `<meta http-equiv="refresh" content="0; url=${to}">`);
      case '/refresh-header':
        res.writeHead(200, { refresh: `0; url=${to}`, 'content-type': 'text/plain', 'content-length': '0' });
        return res.end();
      default:
        return html(res, 'landing');
    }
  });
  sibling = await startSibling(site.port);
  options = { allowPrivateAddressesFor: [`127.0.0.1:${site.port}`], hopTimeoutMs: 2_000 };
});

afterAll(async () => {
  await site.close();
  await internal.close();
  await sibling.close();
});

describe('unfurl: DNS answers', () => {
  it('connects only to an allowed address of a mixed answer, asking for all answers (Happy Eyeballs)', async () => {
    const { lookup, calls } = lookupAnswering(['127.0.0.2', '127.0.0.1']);
    const before = sibling.connections();
    const result = await unfurl(`http://mixed.example:${site.port}/`, { ...options, lookup });
    expect(result.error).toBeUndefined();
    expect(result.chain).toMatchObject([{ status: 200, address: '127.0.0.1' }]);
    expect(sibling.connections()).toBe(before);
    // Node's autoSelectFamily asks the lookup for every answer; the filter sees them all.
    expect(calls.some((c) => c.all)).toBe(true);
  });

  it('refuses an answer made only of refused addresses, whatever the mix of families', async () => {
    const { lookup } = lookupAnswering(['127.0.0.2', '::1', '169.254.169.254', 'fd00::1']);
    const before = sibling.connections();
    const result = await unfurl(`http://all-bad.example:${site.port}/`, { ...options, lookup });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { host: 'all-bad.example' } });
    expect(sibling.connections()).toBe(before);
  });

  it('re-checks a name that re-resolves to a refused address for its next connection (rebinding)', async () => {
    const { lookup, calls } = lookupAnswering(['127.0.0.1'], ['127.0.0.2']);
    const before = sibling.connections();
    const result = await unfurl(`http://rebind.example:${site.port}/hop`, { ...options, lookup });
    expect(result.chain).toMatchObject([{ status: 302, address: '127.0.0.1' }]);
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { host: 'rebind.example', address: '127.0.0.2' } });
    expect(calls).toHaveLength(2);
    expect(sibling.connections()).toBe(before);
  });
});

describe('unfurl: refresh targets are guarded like redirects', () => {
  it.each([
    ['meta refresh', '/meta', 'http://127.0.0.1:INTERNAL/', 'loopback'],
    ['meta refresh', '/meta', 'http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['meta refresh', '/meta', '//[::ffff:127.0.0.1]:INTERNAL/', 'loopback'],
    ['Refresh header', '/refresh-header', 'http://0x7f.1:INTERNAL/', 'loopback'],
    ['Refresh header', '/refresh-header', 'http://[fe80::1]/', 'link-local'],
  ])('a %s to %s is blocked_address', async (_kind, path, target, range) => {
    const before = internal.connections();
    const result = await unfurl(`${site.origin}${path}?to=${encodeURIComponent(target)}`, options);
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { range } });
    expect(result.chain).toHaveLength(1);
    expect(internal.connections()).toBe(before);
  });

  it.each([['file:///etc/passwd'], ['gopher://127.0.0.1:6379/_INFO'], ['javascript:location="http://127.0.0.1/"']])(
    'a meta refresh to %s is unsupported_scheme',
    async (target) => {
      const result = await unfurl(`${site.origin}/meta?to=${encodeURIComponent(target)}`, options);
      expect(result.error).toMatchObject({ code: 'unsupported_scheme' });
    },
  );
});

describe('unfurl: proxy settings in the environment are ignored', () => {
  it('connects directly, never through HTTP_PROXY, even with a proxying global dispatcher', async () => {
    let proxyConnections = 0;
    const proxy = net.createServer((socket) => {
      proxyConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const saved = { ...process.env };
    const dispatcher = getGlobalDispatcher();
    Object.assign(process.env, { HTTP_PROXY: proxyUrl, http_proxy: proxyUrl, HTTPS_PROXY: proxyUrl, https_proxy: proxyUrl, NO_PROXY: '' });
    // What a dependency (or Node's NODE_USE_ENV_PROXY) could install: it must not be used.
    setGlobalDispatcher(new EnvHttpProxyAgent());
    try {
      const result = await unfurl(`http://proxied.example:${site.port}/`, { ...options, lookup: lookupAnswering(['127.0.0.1']).lookup });
      expect(result.error).toBeUndefined();
      expect(result.chain).toMatchObject([{ status: 200, address: '127.0.0.1' }]);
      expect(proxyConnections).toBe(0);
    } finally {
      setGlobalDispatcher(dispatcher);
      process.env = saved;
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
