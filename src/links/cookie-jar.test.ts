import { describe, expect, it } from 'vitest';
import { CookieJar, parseSetCookie } from './cookie-jar.js';

const T0 = Date.UTC(2030, 0, 1);

function jarAt(time = T0, options: { maxCookies?: number; maxCookieBytes?: number } = {}) {
  const clock = { now: time };
  const jar = new CookieJar({ ...options, now: () => clock.now });
  return { jar, clock };
}

const url = (text: string) => new URL(text);

describe('parseSetCookie', () => {
  it('reads name, value and attributes (RFC 6265bis 5.6)', () => {
    expect(parseSetCookie('sid=abc; Path=/app; Domain=.Example.COM; Secure; HttpOnly; Max-Age=60; SameSite=Lax')).toEqual({
      name: 'sid',
      value: 'abc',
      path: '/app',
      domain: 'example.com',
      secure: true,
      maxAge: 60,
    });
    expect(parseSetCookie('  a = b c ;path=relative')).toEqual({ name: 'a', value: 'b c', secure: false });
    expect(parseSetCookie('novalue')).toEqual({ name: '', value: 'novalue', secure: false });
    expect(parseSetCookie('x=1; Max-Age=-5')?.maxAge).toBe(-5);
    expect(parseSetCookie('x=1; Max-Age=soon')?.maxAge).toBeUndefined();
    expect(parseSetCookie('x=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT')?.expires).toBe(Date.UTC(2015, 9, 21, 7, 28));
  });

  it('ignores a cookie with control characters, no name and value, or more than the size cap', () => {
    expect(parseSetCookie('a=b\x01c')).toBeNull();
    expect(parseSetCookie('=')).toBeNull();
    expect(parseSetCookie(`a=${'x'.repeat(4096)}`)).toBeNull();
    expect(parseSetCookie(`a=${'x'.repeat(4095)}`)).not.toBeNull();
  });
});

describe('CookieJar', () => {
  it('sends a host-only cookie back to its host only, on paths under its default path', () => {
    const { jar } = jarAt();
    jar.store(url('http://a.example/app/login'), 'sid=1');
    expect(jar.header(url('http://a.example/app/home'))).toBe('sid=1');
    expect(jar.header(url('http://a.example/app'))).toBe('sid=1');
    expect(jar.header(url('http://a.example/application'))).toBeUndefined();
    expect(jar.header(url('http://a.example/'))).toBeUndefined();
    expect(jar.header(url('http://sub.a.example/app/home'))).toBeUndefined();
    expect(jar.header(url('http://b.example/app/home'))).toBeUndefined();
  });

  it('sends a Domain cookie to subdomains, and refuses a Domain the host is not in or a public suffix', () => {
    const { jar } = jarAt();
    jar.store(url('http://login.a.example/'), ['d=1; Domain=a.example; Path=/', 'x=1; Domain=b.example', 'y=1; Domain=example', 'z=1; Domain=co.uk']);
    expect(jar.header(url('http://www.a.example/'))).toBe('d=1');
    expect(jar.header(url('http://a.example/'))).toBe('d=1');
    expect(jar.header(url('http://b.example/'))).toBeUndefined();
    expect(jar.size).toBe(1);
  });

  it('compares a non-ASCII Domain in punycode', () => {
    const { jar } = jarAt();
    const raw = Buffer.from('bücher.example', 'utf8').toString('latin1');
    jar.store(url('http://www.bücher.example/'), [`a=1; Domain=${raw}`, 'b=1; Domain=bücher.example']);
    expect(jar.header(url('http://shop.xn--bcher-kva.example/'))).toBe('a=1; b=1');
  });

  it('takes Domain equal to an IP host, and never domain-matches an IP', () => {
    const { jar } = jarAt();
    jar.store(url('http://127.0.0.1:8080/'), ['a=1; Domain=127.0.0.1', 'b=1; Domain=0.0.1']);
    expect(jar.header(url('http://127.0.0.1:9090/'))).toBe('a=1');
    expect(jar.size).toBe(1);
  });

  it('keeps Secure cookies to https, and __Secure-/__Host- prefixes to their rules', () => {
    const { jar } = jarAt();
    jar.store(url('http://a.example/'), ['s=1; Secure', '__Secure-x=1']);
    expect(jar.size).toBe(0);
    jar.store(url('https://a.example/'), ['s=1; Secure', '__Secure-x=1; Secure', '__Host-h=1; Secure; Path=/', '__Host-bad=1; Secure; Path=/; Domain=a.example']);
    expect(jar.header(url('https://a.example/'))).toBe('s=1; __Secure-x=1; __Host-h=1');
    expect(jar.header(url('http://a.example/'))).toBeUndefined();
  });

  it('deletes on Max-Age=0, a negative Max-Age or a past Expires, and expires cookies with time', () => {
    const { jar, clock } = jarAt();
    jar.store(url('http://a.example/'), ['a=1; Path=/', 'b=1; Path=/', 'c=1; Path=/', 'd=1; Path=/; Max-Age=10', 'e=1; Path=/; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=0']);
    expect(jar.header(url('http://a.example/'))).toBe('a=1; b=1; c=1; d=1');
    jar.store(url('http://a.example/'), ['a=; Path=/; Max-Age=0', 'b=; Path=/; Max-Age=-1', 'c=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
    expect(jar.header(url('http://a.example/'))).toBe('d=1');
    clock.now += 11_000;
    expect(jar.header(url('http://a.example/'))).toBeUndefined();
  });

  it('replaces a cookie of the same name, domain and path, and sends longer paths first', () => {
    const { jar } = jarAt();
    jar.store(url('http://a.example/'), ['a=1; Path=/', 'a=2; Path=/deep', 'b=1; Path=/']);
    jar.store(url('http://a.example/'), 'a=3; Path=/');
    expect(jar.header(url('http://a.example/deep/x'))).toBe('a=2; a=3; b=1');
  });

  it('counts a version change only when what would be sent changes', () => {
    const { jar } = jarAt();
    expect(jar.version).toBe(0);
    jar.store(url('http://a.example/'), 'a=1; Path=/');
    expect(jar.version).toBe(1);
    jar.store(url('http://a.example/'), 'a=1; Path=/; Max-Age=100');
    expect(jar.version).toBe(1);
    jar.store(url('http://a.example/'), 'a=2; Path=/');
    expect(jar.version).toBe(2);
    jar.store(url('http://a.example/'), 'a=2; Path=/; Max-Age=0');
    expect(jar.version).toBe(3);
    jar.store(url('http://a.example/'), 'gone=1; Path=/; Max-Age=0');
    expect(jar.version).toBe(3);
  });

  it('keeps at most maxCookies, dropping the oldest, and refuses oversized cookies', () => {
    const { jar } = jarAt(T0, { maxCookies: 50 });
    for (let i = 0; i < 60; i++) jar.store(url('http://a.example/'), `c${i}=${i}; Path=/`);
    expect(jar.size).toBe(50);
    const sent = jar.header(url('http://a.example/'))!;
    expect(sent.startsWith('c10=10; ')).toBe(true);
    expect(sent.endsWith('c59=59')).toBe(true);
    jar.store(url('http://a.example/'), `big=${'x'.repeat(5000)}`);
    expect(jar.size).toBe(50);
    expect(jar.header(url('http://a.example/'))).not.toContain('big=');
  });

  it('sends a nameless cookie as its value alone, and sends bytes back as received', () => {
    const { jar } = jarAt();
    const raw = Buffer.from('ü', 'utf8').toString('latin1');
    jar.store(url('http://a.example/'), ['token; Path=/', `u=${raw}; Path=/`]);
    expect(jar.header(url('http://a.example/'))).toBe(`token; u=${raw}`);
  });
});
