import { describe, expect, it } from 'vitest';
import { HostFilter, hostOfKey } from './host-filter.js';

describe('HostFilter', () => {
  const hosts = Array.from({ length: 20_000 }, (_, i) => `site${i}.example`);
  const filter = new HostFilter(hosts.length);
  for (const host of hosts) filter.add(host);

  it('never misses a host or a suffix after a dot', () => {
    for (const host of hosts) {
      expect(filter.mayHoldHostOrSuffix(host)).toBe(true);
      expect(filter.mayHoldHostOrSuffix(`www.login.${host}`)).toBe(true);
    }
  });

  it('never misses a host it holds when asked about that host alone', () => {
    for (const host of hosts) expect(filter.mayHold(host)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 20_000; i++) if (filter.mayHold(`www.site${i}.example`)) falsePositives++;
    expect(falsePositives / 20_000).toBeLessThan(0.03);
  });

  it('rarely answers yes for hosts it does not hold', () => {
    let falsePositives = 0;
    for (let i = 0; i < 20_000; i++) if (filter.mayHoldHostOrSuffix(`other${i}.test`)) falsePositives++;
    expect(falsePositives / 20_000).toBeLessThan(0.03);
  });

  it('looks up suffixes of two labels or more, not a bare last label', () => {
    const small = new HostFilter(1);
    small.add('com');
    small.add('localhost');
    expect(small.mayHoldHostOrSuffix('com')).toBe(true);
    expect(small.mayHoldHostOrSuffix('localhost')).toBe(true);
    expect(small.mayHoldHostOrSuffix('evil.com')).toBe(false);
  });

  it('finds the host of every key kind', () => {
    expect(hostOfKey('url', 'https://evil.example/a?b')).toBe('evil.example');
    expect(hostOfKey('url', 'http://[::1]/')).toBe('[::1]');
    expect(hostOfKey('expression', '1.2.3.4/x/')).toBe('1.2.3.4');
    expect(hostOfKey('domain', 'evil.example')).toBe('evil.example');
  });
});
