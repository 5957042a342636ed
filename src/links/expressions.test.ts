import { describe, expect, it } from 'vitest';
import { hostSuffixes, lookupExpressions, pathPrefixes } from './expressions.js';
import { canonicalize } from './canonicalize.js';

describe('lookupExpressions: Safe Browsing documentation examples', () => {
  it('http://a.b.c/1/2.html?param=1 gives 8 expressions', () => {
    expect(lookupExpressions('http://a.b.c/1/2.html?param=1')).toEqual([
      'a.b.c/1/2.html?param=1',
      'a.b.c/1/2.html',
      'a.b.c/',
      'a.b.c/1/',
      'b.c/1/2.html?param=1',
      'b.c/1/2.html',
      'b.c/',
      'b.c/1/',
    ]);
  });

  it('http://a.b.c.d.e.f.g/1.html gives 10 expressions (b.c.d.e.f.g is skipped: last 5 components only)', () => {
    expect(lookupExpressions('http://a.b.c.d.e.f.g/1.html')).toEqual([
      'a.b.c.d.e.f.g/1.html',
      'a.b.c.d.e.f.g/',
      'c.d.e.f.g/1.html',
      'c.d.e.f.g/',
      'd.e.f.g/1.html',
      'd.e.f.g/',
      'e.f.g/1.html',
      'e.f.g/',
      'f.g/1.html',
      'f.g/',
    ]);
  });

  it('http://1.2.3.4/1/ gives 2 expressions (IP hosts are exact only)', () => {
    expect(lookupExpressions('http://1.2.3.4/1/')).toEqual(['1.2.3.4/1/', '1.2.3.4/']);
  });

  it('http://a.b/saw-cgi/eBayISAPI.dll/ gives 3 expressions', () => {
    expect(lookupExpressions('http://a.b/saw-cgi/eBayISAPI.dll/')).toEqual([
      'a.b/saw-cgi/eBayISAPI.dll/',
      'a.b/',
      'a.b/saw-cgi/',
    ]);
  });
});

describe('lookupExpressions: limits and details', () => {
  it('never exceeds 5 hosts x 6 paths', () => {
    const expressions = lookupExpressions('http://a.b.c.d.e.f.g.h/1/2/3/4/5/6/7.html?q=1');
    expect(expressions).toHaveLength(30);
    expect(new Set(expressions).size).toBe(30);
    expect(expressions).toContain('d.e.f.g.h/1/2/3/');
    expect(expressions).not.toContain('d.e.f.g.h/1/2/3/4/');
    expect(expressions).not.toContain('h/');
  });

  it('drops scheme, port and userinfo, and works on a canonical result', () => {
    const url = canonicalize('https://user@Evil.Example.com:8443/x');
    expect(lookupExpressions(url)).toEqual(['evil.example.com/x', 'evil.example.com/', 'example.com/x', 'example.com/']);
  });

  it('keeps an empty query as its own expression', () => {
    expect(lookupExpressions('http://h.com/q?')).toEqual(['h.com/q?', 'h.com/q', 'h.com/']);
  });

  it('treats IPv6 hosts as exact', () => {
    expect(hostSuffixes('[2001:db8::1]', true)).toEqual(['[2001:db8::1]']);
  });

  it('a single-label host has no suffix but itself', () => {
    expect(hostSuffixes('localhost', false)).toEqual(['localhost']);
    expect(hostSuffixes('b.c', false)).toEqual(['b.c']);
  });

  it('paths: root only for "/", no duplicates', () => {
    expect(pathPrefixes('/')).toEqual(['/']);
    expect(pathPrefixes('/', '')).toEqual(['/?', '/']);
    expect(pathPrefixes('/a/b/')).toEqual(['/a/b/', '/', '/a/']);
  });
});

describe('hostSuffixes: index arithmetic equals split/join', () => {
  it('gives the exact host, then the suffixes of the last 5 components down to 2', () => {
    const bySplit = (host: string): string[] => {
      const parts = host.split('.');
      const out = [host];
      for (let n = Math.min(5, parts.length); n >= 2; n--) {
        const suffix = parts.slice(-n).join('.');
        if (suffix !== host) out.push(suffix);
      }
      return out;
    };
    for (const host of ['a', 'a.b', 'a.b.c', 'a.b.c.d', 'a.b.c.d.e', 'a.b.c.d.e.f', 'a.b.c.d.e.f.g.h', 'www.example.co.uk', 'x.y.github.io', 'xn--mnchen-3ya.de']) {
      expect(hostSuffixes(host, false)).toEqual(bySplit(host));
    }
  });
});
