import http from 'node:http';
import net, { type AddressInfo, type LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { createAddressPolicy } from '../../src/links/guard/address-policy.js';
import { createGuardedAgent } from '../../src/links/guard/connector.js';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { html, redirect, startServer, unusedPort, watchConnectAttempts, type TestServer } from './unfurl-servers.js';

let first: TestServer;
let second: TestServer;
/** The override reaches the first server only: port-scoped, so 127.0.0.1:80 and the second server stay refused. */
let onlyFirst: UnfurlOptions;

/** A resolver that answers from a table, like a DNS server under an attacker's control. */
function fakeLookup(table: Record<string, string>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const address = table[hostname];
    if (address === undefined) {
      const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
      return process.nextTick(callback, error);
    }
    const family = address.includes(':') ? 6 : 4;
    if (options.all) return process.nextTick(callback, null, [{ address, family }]);
    return process.nextTick(callback, null, address, family);
  }) as unknown as LookupFunction;
}

beforeAll(async () => {
  second = await startServer((_req, res) => html(res, 'internal admin page'));
  first = await startServer((req, res) => {
    const target = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
    if (target) return redirect(res, 302, target.replace('SECOND', String(second.port)));
    return html(res, 'ok');
  });
  onlyFirst = { allowPrivateAddressesFor: [`127.0.0.1:${first.port}`], hopTimeoutMs: 2_000 };
});

afterAll(async () => {
  await first.close();
  await second.close();
});

describe('unfurl: address guard without the override', () => {
  it('refuses 127.0.0.1 before connecting', async () => {
    const result = await unfurl(`${first.origin}/`);
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { address: '127.0.0.1', range: 'loopback' } });
    expect(result.chain).toEqual([]);
    expect(result.final).toMatchObject({ url: `${first.origin}/`, fetched: false });
    expect(result.privateAddressOverride).toBe(false);
    expect(first.connections()).toBe(0);
  });

  it('refuses localhost: the check is on the resolved address, not the name', async () => {
    const before = first.connections();
    const result = await unfurl(`http://localhost:${first.port}/`);
    expect(result.error?.code).toBe('blocked_address');
    expect(result.chain).toEqual([]);
    expect(first.connections()).toBe(before);
  });

  it('refuses a public-looking name that an attacker DNS points at 127.0.0.1', async () => {
    const before = first.connections();
    const result = await unfurl(`http://innocent.example:${first.port}/`, { lookup: fakeLookup({ 'innocent.example': '127.0.0.1' }) });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { host: 'innocent.example', range: 'loopback' } });
    expect(first.connections()).toBe(before);
  });

  it('refuses a name resolving to the cloud metadata address', async () => {
    const result = await unfurl('http://metadata.example/', { lookup: fakeLookup({ 'metadata.example': '169.254.169.254' }) });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { range: 'link-local' } });
  });
});

describe('unfurl: every hop is guarded (override for the first server only)', () => {
  it('reaches the first server through the override and says so', async () => {
    const result = await unfurl(`${first.origin}/`, onlyFirst);
    expect(result.error).toBeUndefined();
    expect(result.chain).toMatchObject([{ status: 200, address: '127.0.0.1', viaPrivateAddressOverride: true }]);
    expect(result.privateAddressOverride).toBe(true);
  });

  it.each([
    ['127.0.0.1 on another port', 'http://127.0.0.1:SECOND/', 'loopback'],
    ['169.254.169.254', 'http://169.254.169.254/latest/meta-data/iam/', 'link-local'],
    ['[::ffff:127.0.0.1]', 'http://[::ffff:127.0.0.1]:SECOND/', 'loopback'],
    ['[::1]', 'http://[::1]:SECOND/', 'loopback'],
    ['0x7f.1', 'http://0x7f.1:SECOND/', 'loopback'],
    ['2130706433', 'http://2130706433:SECOND/', 'loopback'],
    ['0177.0.0.1', 'http://0177.0.0.1/', 'loopback'],
    ['10.0.0.1', 'http://10.0.0.1/', 'private'],
    ['[fd00::1]', 'http://[fd00::1]/', 'unique-local'],
    ['0.0.0.0', 'http://0.0.0.0:SECOND/', 'unspecified'],
  ])('a redirect to %s is blocked with no connection attempted', async (_name, target, range) => {
    const watch = watchConnectAttempts();
    const secondBefore = second.connections();
    try {
      const result = await unfurl(`${first.origin}/?to=${encodeURIComponent(target)}`, onlyFirst);
      expect(result.error).toMatchObject({ code: 'blocked_address', detail: { range } });
      expect(result.chain.map((h) => h.status)).toEqual([302]);
      expect(result.final?.fetched).toBe(false);
      expect(watch.attempts.every((a) => a === `127.0.0.1:${first.port}`)).toBe(true);
      expect(second.connections()).toBe(secondBefore);
    } finally {
      watch.stop();
    }
  });

  it('a redirect to a name resolving to a private address is blocked at connect time', async () => {
    const secondBefore = second.connections();
    const result = await unfurl(`${first.origin}/?to=${encodeURIComponent('http://rebind.example:SECOND/')}`, {
      ...onlyFirst,
      lookup: fakeLookup({ 'rebind.example': '127.0.0.1' }),
    });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { host: 'rebind.example' } });
    expect(result.chain).toHaveLength(1);
    expect(second.connections()).toBe(secondBefore);
  });

  it('a name resolving to an overridden address is reached, and the hop records the peer address', async () => {
    const result = await unfurl(`http://allowed.example:${first.port}/`, { ...onlyFirst, lookup: fakeLookup({ 'allowed.example': '127.0.0.1' }) });
    expect(result.error).toBeUndefined();
    expect(result.chain).toMatchObject([{ status: 200, address: '127.0.0.1' }]);
  });
});

describe('unfurl: a literal IPv6 hop', () => {
  it('records the peer address and the override, as an IPv4 hop does', async () => {
    // startServer listens on 127.0.0.1 only; this one needs ::1.
    const v6 = http.createServer((_req, res) => html(res, 'ok'));
    await new Promise<void>((resolve) => v6.listen(0, '::1', resolve));
    const { port } = v6.address() as AddressInfo;
    try {
      const result = await unfurl(`http://[::1]:${port}/`, { allowPrivateAddressesFor: [`[::1]:${port}`], hopTimeoutMs: 2_000 });
      expect(result.error).toBeUndefined();
      expect(result.chain).toMatchObject([{ status: 200, address: '::1', viaPrivateAddressOverride: true }]);
    } finally {
      v6.closeAllConnections();
      await new Promise<void>((resolve) => v6.close(() => resolve()));
    }
  });
});

describe('unfurl: https is guarded before the TLS handshake', () => {
  it('no TCP connection (so no ClientHello) reaches a refused address', async () => {
    let connections = 0;
    const tcp = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const { port } = tcp.address() as AddressInfo;
    try {
      const byName = await unfurl(`https://tls.example:${port}/`, { lookup: fakeLookup({ 'tls.example': '127.0.0.1' }) });
      expect(byName.error).toMatchObject({ code: 'blocked_address', detail: { range: 'loopback' } });
      const byAddress = await unfurl(`https://127.0.0.1:${port}/`);
      expect(byAddress.error?.code).toBe('blocked_address');
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });
});

describe('connector: the connected peer is checked before any HTTP byte', () => {
  it('destroys a socket whose peer is refused even when the DNS filter is off', async () => {
    const policy = createAddressPolicy(); // no override: 127.0.0.1 refused
    const agent = createGuardedAgent({
      policy,
      checkResolvedAddresses: false, // only the post-connect check remains
      lookup: fakeLookup({ 'sneaky.example': '127.0.0.1' }),
    });
    const connectionsBefore = second.connections();
    const requestsBefore = second.requests.length;
    try {
      const error = await agent
        .request({ origin: `http://sneaky.example:${second.port}`, path: '/', method: 'GET' })
        .then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(ScanError);
      expect((error as ScanError).code).toBe('blocked_address');
      expect((error as ScanError).detail).toMatchObject({ address: '127.0.0.1', range: 'loopback' });
      // The TCP connection happened (that is what was checked), but no request reached the server.
      expect(second.connections()).toBe(connectionsBefore + 1);
      expect(second.requests.length).toBe(requestsBefore);
    } finally {
      await agent.destroy();
    }
  });
});

describe('unfurl: network failures are typed, never thrown', () => {
  it('DNS failure -> dns_failed', async () => {
    const result = await unfurl('http://no-such-host.example/', { lookup: fakeLookup({}) });
    expect(result.error).toMatchObject({ code: 'dns_failed' });
    expect(result.final).toMatchObject({ url: 'http://no-such-host.example/', fetched: false });
  });

  it('connection refused -> fetch_failed', async () => {
    const port = await unusedPort();
    const result = await unfurl(`http://127.0.0.1:${port}/`, { allowPrivateAddressesFor: [`127.0.0.1:${port}`] });
    expect(result.error).toMatchObject({ code: 'fetch_failed', detail: { cause: 'ECONNREFUSED' } });
    expect(result.chain).toEqual([]);
  });

  it('a refused redirect target after a good hop keeps the good hop', async () => {
    const port = await unusedPort();
    const result = await unfurl(`${first.origin}/?to=${encodeURIComponent(`http://127.0.0.1:${port}/`)}`, {
      allowPrivateAddressesFor: [`127.0.0.1:${first.port}`, `127.0.0.1:${port}`],
    });
    expect(result.error?.code).toBe('fetch_failed');
    expect(result.chain.map((h) => h.status)).toEqual([302]);
    expect(result.final).toEqual({ url: `http://127.0.0.1:${port}/`, canonical: 'http://127.0.0.1/', fetched: false });
  });
});
