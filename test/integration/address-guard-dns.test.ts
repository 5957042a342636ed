import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl } from '../../src/links/unfurl.js';
import { html, startDnsServer, startServer, type TestServer } from './unfurl-servers.js';

/**
 * The default name lookup (c-ares, no thread pool) against a real DNS server on 127.0.0.1: names
 * whose DNS never answers hold nothing but their own unfurl, and every answer passes the guard.
 */

let site: TestServer;
let dns: Awaited<ReturnType<typeof startDnsServer>>;

beforeAll(async () => {
  site = await startServer((req, res) => {
    if (req.url === '/x') return html(res, `<meta http-equiv="refresh" content="0; url=http://phish.fast.test:${site.port}/login">`);
    return html(res, 'landing');
  });
  dns = await startDnsServer({ 'short.fast.test': '127.0.0.1', 'phish.fast.test': '127.0.0.1' });
});

afterAll(async () => {
  await site.close();
  await dns.close();
});

describe('unfurl: name lookups over c-ares', () => {
  it('a name whose DNS never answers does not delay the lookups of other links', async () => {
    // More than libuv's 4 threads: with dns.lookup these held every other lookup of the process.
    const slow = Array.from({ length: 8 }, (_, i) => unfurl(`http://n${i}.slow.test/`, { dnsServers: [dns.server], hopTimeoutMs: 1_500 }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const result = await unfurl(`http://short.fast.test:${site.port}/x`, { dnsServers: [dns.server], allowPrivateAddressesFor: [`127.0.0.1:${site.port}`] });
    const ms = performance.now() - started;
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => hop.url)).toEqual([`http://short.fast.test:${site.port}/x`, `http://phish.fast.test:${site.port}/login`]);
    expect(ms).toBeLessThan(1_000);
    const ended = await Promise.all(slow);
    expect(ended.map((r) => r.error?.code)).toEqual(new Array(8).fill('fetch_timeout'));
    expect(dns.ignored()).toBeGreaterThanOrEqual(8);
  });

  it('its answers pass the guard: a name resolving to 127.0.0.1 is refused without the override', async () => {
    const before = site.connections();
    const result = await unfurl(`http://short.fast.test:${site.port}/x`, { dnsServers: [dns.server] });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { host: 'short.fast.test', range: 'loopback' } });
    expect(site.connections()).toBe(before);
  });

  it('a name without an address is dns_failed', async () => {
    const result = await unfurl('http://nowhere.fast.test/', { dnsServers: [dns.server] });
    expect(result.error).toMatchObject({ code: 'dns_failed', detail: { url: 'http://nowhere.fast.test/' } });
  });

  it('localhost is loopback without asking DNS (browsers resolve it themselves)', async () => {
    const result = await unfurl(`http://localhost:${site.port}/`, { dnsServers: [dns.server] });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { range: 'loopback' } });
    const allowed = await unfurl(`http://app.localhost:${site.port}/`, { dnsServers: [dns.server], allowPrivateAddressesFor: [`127.0.0.1:${site.port}`] });
    expect(allowed.chain).toMatchObject([{ status: 200, address: '127.0.0.1' }]);
  });
});
