import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { fetchImage } from '../../src/links/fetch-image.js';
import { unfurl } from '../../src/links/unfurl.js';
import { lookupAnswering } from './unfurl-servers.js';

/**
 * Both fetch paths refuse a public address that belongs to the worker itself. Such an address
 * cannot be set up here, so this file pretends the machine owns 8.8.8.8 (its own file: the
 * interface list is cached process-wide for a second, and the pretence must come first).
 */

const OWN = '8.8.8.8';

beforeAll(() => {
  const real = os.networkInterfaces();
  vi.spyOn(os, 'networkInterfaces').mockReturnValue({
    ...real,
    eth9: [{ address: OWN, family: 'IPv4', netmask: '255.255.255.0', mac: '02:00:00:00:00:09', internal: false, cidr: `${OWN}/24` }],
  });
});

afterAll(() => {
  vi.restoreAllMocks();
});

describe('the worker\'s own public address is refused', () => {
  it('unfurl: a literal URL, before any connection', async () => {
    const result = await unfurl(`http://${OWN}:9464/metrics`, { hopTimeoutMs: 500 });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { address: OWN, range: 'local-interface' } });
    expect(result.chain).toEqual([]);
  });

  it('unfurl: a name that resolves to it (what an attacker does after seeing the worker\'s source address)', async () => {
    const result = await unfurl('http://worker-self.example:9464/metrics', { hopTimeoutMs: 500, lookup: lookupAnswering([OWN]).lookup });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { host: 'worker-self.example', range: 'local-interface' } });
  });

  it('unfurl: its IPv4-mapped IPv6 form', async () => {
    const result = await unfurl(`http://[::ffff:${OWN}]:9464/`, { hopTimeoutMs: 500 });
    expect(result.error).toMatchObject({ code: 'blocked_address', detail: { range: 'local-interface' } });
  });

  it('fetchImage: a literal URL', async () => {
    const error = await fetchImage(`http://${OWN}:9464/a.png`, { maxBytes: 1000, timeoutMs: 500 }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ScanError);
    expect(error).toMatchObject({ code: 'blocked_address', permanent: true, detail: { range: 'local-interface' } });
  });
});
