import os from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAddressPolicy, localInterfaceAddresses } from './address-policy.js';

/**
 * A public address on one of the worker's own interfaces (a public IPv4 on eth0, any global IPv6
 * address: IPv6 has no NAT) reaches the worker itself, e.g. its metrics port on all interfaces.
 * An attacker learns it from the source address of the unfurler's visit to their own server.
 */

describe('address policy: the machine\'s own addresses', () => {
  const own = () => ['8.8.8.8', '2606:4700:4700::1111'];

  it.each([
    ['8.8.8.8', undefined],
    ['2606:4700:4700::1111', undefined],
    ['2606:4700:4700:0:0:0:0:1111', undefined], // another spelling of the same address
    ['::ffff:8.8.8.8', '8.8.8.8'], // how a dual-stack socket shows the IPv4 peer
    ['64:ff9b::808:808', '8.8.8.8'], // NAT64 sends it back to the worker's IPv4 address
  ])('refuses %s, an address of this machine, as local-interface', (address, embeddedIPv4) => {
    const decision = createAddressPolicy(undefined, { localAddresses: own }).check(address, 80);
    expect(decision.allowed).toBe(false);
    expect(decision.verdict.range).toBe('local-interface');
    expect(decision.verdict.embeddedIPv4).toBe(embeddedIPv4);
  });

  it('keeps other public addresses public', () => {
    const policy = createAddressPolicy(undefined, { localAddresses: own });
    expect(policy.check('1.1.1.1', 80)).toMatchObject({ allowed: true, overridden: false, verdict: { range: 'public' } });
  });

  it('keeps the range of an address that is both local and not public', () => {
    const policy = createAddressPolicy(undefined, { localAddresses: () => ['127.0.0.1', '10.1.2.3'] });
    expect(policy.check('127.0.0.1', 80).verdict.range).toBe('loopback');
    expect(policy.check('10.1.2.3', 80).verdict.range).toBe('private');
  });

  it('lets the test override list an own address, like any refused one', () => {
    const policy = createAddressPolicy(['8.8.8.8:8080'], { localAddresses: own });
    expect(policy.check('8.8.8.8', 8080)).toMatchObject({ allowed: true, overridden: true });
    expect(policy.check('8.8.8.8', 80).allowed).toBe(false);
  });
});

describe('localInterfaceAddresses', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reads os.networkInterfaces in normal form, and re-reads it after at most a second', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      vi.advanceTimersByTime(60_000); // past any earlier read's cache
      const entry = (address: string, family: 'IPv4' | 'IPv6') =>
        ({ address, family, netmask: '', mac: '00:00:00:00:00:00', internal: false, cidr: null, ...(family === 'IPv6' && { scopeid: 0 }) }) as os.NetworkInterfaceInfo;
      const read = vi
        .spyOn(os, 'networkInterfaces')
        .mockReturnValueOnce({ eth0: [entry('203.0.113.7', 'IPv4'), entry('2001:DB8:0:0::7', 'IPv6')] })
        .mockReturnValue({ eth0: [entry('198.51.100.1', 'IPv4')] });
      expect([...localInterfaceAddresses()]).toEqual(['203.0.113.7', '2001:db8::7']);
      localInterfaceAddresses();
      expect(read).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(1_001);
      expect([...localInterfaceAddresses()]).toEqual(['198.51.100.1']);
      expect(read).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is used by default: the real loopback address is among them', () => {
    expect(localInterfaceAddresses().has('127.0.0.1')).toBe(true);
  });
});
