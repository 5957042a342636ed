import { describe, expect, it } from 'vitest';
import { canonicalize } from './canonicalize.js';
import { registrableDomain, registrableDomainOf } from './registrable-domain.js';

describe('registrableDomain', () => {
  it.each([
    ['www.example.com', 'example.com'],
    ['a.b.example.co.uk', 'example.co.uk'],
    ['Example.COM.', 'example.com'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['www.BÜCHER.de', 'xn--bcher-kva.de'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
  ])('%s -> %s', (host, expected) => {
    expect(registrableDomain(host)).toBe(expected);
  });

  describe('private suffixes (shared hosting)', () => {
    it.each([
      ['evil.github.io', 'evil.github.io', 'github.io'],
      ['www.evil.github.io', 'evil.github.io', 'github.io'],
      ['foo.blogspot.com', 'foo.blogspot.com', 'blogspot.com'],
      ['bucket.s3.amazonaws.com', 'bucket.s3.amazonaws.com', 'amazonaws.com'],
    ])('%s -> %s by default (one owner), %s with ICANN suffixes only', (host, withPrivate, icannOnly) => {
      expect(registrableDomain(host)).toBe(withPrivate);
      expect(registrableDomain(host, { privateSuffixes: true })).toBe(withPrivate);
      expect(registrableDomain(host, { privateSuffixes: false })).toBe(icannOnly);
    });

    it('a private suffix alone has no registrable domain unless ICANN-only', () => {
      expect(registrableDomain('github.io')).toBeNull();
      expect(registrableDomain('github.io', { privateSuffixes: false })).toBe('github.io');
    });

    it('ICANN-only does not change ordinary domains', () => {
      expect(registrableDomain('www.example.co.uk', { privateSuffixes: false })).toBe('example.co.uk');
    });
  });

  it.each([
    ['127.0.0.1'],
    ['8.8.8.8'],
    ['2130706433'],
    ['0x7f.1'],
    ['::1'],
    ['[::1]'],
    ['[2001:db8::1]'],
    ['com'],
    ['co.uk'],
    ['localhost'],
    [''],
  ])('%j -> null', (host) => {
    expect(registrableDomain(host)).toBeNull();
  });
});

describe('registrableDomainOf (the canonical-host fast path)', () => {
  it.each([
    'http://www.example.co.uk/a',
    'https://evil.github.io/x',
    'http://BÜCHER.de/',
    'http://1.2.3.4/',
    'http://[::1]/',
    'http://co.uk/',
    'http://localhost/',
    'http://a.b.c.d.blogspot.com/',
  ])('agrees with registrableDomain for %s', (url) => {
    const canonical = canonicalize(url);
    expect(registrableDomainOf(canonical)).toBe(canonical.hostIsIp ? null : registrableDomain(canonical.host));
  });
});
