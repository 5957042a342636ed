import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyAddress, isPublicAddress } from './address.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, parseIpLiteral } from '../ip-literal.js';

describe('parseIpLiteral: every notation a URL host can use', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7F.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['3279880203', '195.127.0.11'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['4294967295', '255.255.255.255'],
    ['0000000000001.2.3.4', '1.2.3.4'], // leading zeros carry no value, however many
    ['0x0000000000007f.0.0.1', '127.0.0.1'],
    ['00000000000000177.0.0.1', '127.0.0.1'],
    ['0x000000000001020304', '1.2.3.4'],
    ['[::1]', '::1'],
    ['::1', '::1'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['[2001:0DB8:0000:0000:0000:0000:0000:0001]', '2001:db8::1'],
    ['[2001:db8:0:0:1:0:0:1]', '2001:db8::1:0:0:1'],
    ['[1:0:0:2:0:0:0:3]', '1:0:0:2::3'],
    ['[fe80::1%25eth0]', 'fe80::1'],
  ])('%s -> %s', (input, expected) => {
    expect(parseIpLiteral(input)?.address).toBe(expected);
  });

  it.each([
    ['4294967296'], // 2^32
    ['256.1.1.1'],
    ['1.2.3.4.5'],
    ['08.1.1.1'], // 08 is neither octal nor decimal
    ['1.2.3.256'],
    ['1.2.65536'],
    ['example.com'],
    ['1.2.3.4a'],
    [''],
    ['[1.2.3.4]'],
    ['[::1'],
    ['1:2:3:4:5:6:7:8:9'],
    ['1::2::3'],
    ['12345::'],
    ['::1.2.3'],
    ['::01.2.3.4'],
    ['99999999999999999999999'],
  ])('%s is not an IP literal', (input) => {
    expect(parseIpLiteral(input)).toBeNull();
  });

  it('keeps the zone id apart', () => {
    expect(parseIpLiteral('fe80::1%eth0')).toMatchObject({ version: 6, address: 'fe80::1', zone: 'eth0' });
  });

  it('round-trips every IPv4 integer through the dotted form', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        expect(parseIPv4(formatIPv4(n))).toBe(n);
        expect(parseIPv4(String(n))).toBe(n);
        expect(parseIPv4(`0x${n.toString(16)}`)).toBe(n);
      }),
    );
  });

  it('reads IPv4 notations as the WHATWG URL parser does, leading zeros included', () => {
    const part = fc
      .record({ value: fc.integer({ min: 0, max: 0xffffffff }), radix: fc.constantFrom(8, 10, 16), zeros: fc.integer({ min: 0, max: 20 }) })
      .map(({ value, radix, zeros }) => (radix === 16 ? '0x' : radix === 8 ? '0' : '') + (radix === 10 ? '' : '0'.repeat(zeros)) + value.toString(radix));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
        const host = parts.join('.');
        let whatwg: string | null;
        try {
          whatwg = new URL(`http://${host}/`).hostname;
        } catch {
          whatwg = null; // ends in a number but is no IPv4 address: WHATWG refuses the host
        }
        const ours = parseIPv4(host);
        expect(ours === null ? null : formatIPv4(ours)).toBe(whatwg);
      }),
    );
  });

  it('round-trips every IPv6 word array through RFC 5952 text', () => {
    const word = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (words) => {
        const text = formatIPv6(words);
        expect(parseIPv6(text)).toEqual(words);
        expect(text).toBe(text.toLowerCase());
      }),
    );
  });
});

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['2130706433', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this-network'],
    ['192.0.0.8', 'ietf-protocol'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['192.88.99.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:0:10.1.2.3', 'private'],
    ['::127.0.0.1', 'ipv4-compatible'],
    ['::8.8.8.8', 'ipv4-compatible'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b:1::8.8.8.8', 'nat64-local'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['2001:db8::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['2001:10::1', 'ietf-protocol'],
    ['3fff::1', 'documentation'],
    ['100::1', 'discard-only'],
    ['5f00::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['1::1', 'reserved'],
    ['not-an-ip', 'invalid'],
    ['localhost', 'invalid'],
  ])('%s is blocked as %s', (input, range) => {
    const verdict = classifyAddress(input);
    expect(verdict.allowed).toBe(false);
    expect(verdict.range).toBe(range);
  });

  it.each([
    ['8.8.8.8'],
    ['1.1.1.1'],
    ['93.184.216.34'],
    ['172.15.255.255'], // just below 172.16/12
    ['172.32.0.0'], // just above
    ['100.63.255.255'],
    ['100.128.0.0'],
    ['169.253.255.255'],
    ['198.17.255.255'],
    ['198.20.0.0'],
    ['223.255.255.255'],
    ['2606:4700:4700::1111'],
    ['2a00:1450:4001:80b::200e'],
    ['::ffff:8.8.8.8'],
    ['64:ff9b::8.8.8.8'],
    ['2002:808:808::1'],
  ])('%s is public', (input) => {
    expect(classifyAddress(input)).toMatchObject({ allowed: true, range: 'public' });
    expect(isPublicAddress(input)).toBe(true);
  });

  it('reports the embedded IPv4 address and how it was carried', () => {
    expect(classifyAddress('::ffff:127.0.0.1')).toEqual({
      allowed: false,
      range: 'loopback',
      address: '::ffff:7f00:1',
      embeddedIPv4: '127.0.0.1',
      via: 'ipv4-mapped',
    });
    expect(classifyAddress('2002:a00:1::')).toMatchObject({ embeddedIPv4: '10.0.0.1', via: '6to4' });
    expect(classifyAddress('64:ff9b::8.8.8.8')).toMatchObject({ allowed: true, embeddedIPv4: '8.8.8.8' });
  });

  it('normalises the address it reports', () => {
    expect(classifyAddress('0x7f.1').address).toBe('127.0.0.1');
    expect(classifyAddress('[0:0:0:0:0:0:0:1]').address).toBe('::1');
  });

  it('never allows an address inside 10/8, 127/8 or 192.168/16 (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(10, 127), fc.integer({ min: 0, max: 0xffffff }), (first, rest) => {
        expect(classifyAddress(formatIPv4(first * 0x1000000 + rest)).allowed).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (rest) => {
        const ip = formatIPv4(0xc0a80000 + rest);
        expect(classifyAddress(ip).allowed).toBe(false);
        expect(classifyAddress(`::ffff:${ip}`).allowed).toBe(false);
      }),
    );
  });
});
