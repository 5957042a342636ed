import { describe, expect, it } from 'vitest';
import { canonicalEntry, decodeEntryInfo, encodeEntryInfo, encodeEntryPatch, entryAsWritten, entryField, entryFields, entryIdentity } from './list-entry.js';

describe('entry identity: the key follows the matching rule', () => {
  it('makes an http and an https URL entry of one URL one entry, as the matcher hits either with either', () => {
    const https = canonicalEntry('https://Evil.Example/login?x=1');
    const http = canonicalEntry('http://evil.example/login?x=1');
    expect(entryIdentity(https)).toBe(entryIdentity(http));
    expect(entryIdentity(https)).toBe('u://evil.example/login?x=1');
    // A URL entry without a scheme is http.
    expect(entryIdentity(canonicalEntry('evil.example/login?x=1', 'url'))).toBe(entryIdentity(https));
  });

  it('keeps URLs that differ in more than the scheme apart, and other schemes to themselves', () => {
    expect(entryIdentity(canonicalEntry('https://evil.example/login'))).not.toBe(entryIdentity(canonicalEntry('https://evil.example/login/')));
    expect(entryIdentity(canonicalEntry('https://evil.example/login'))).not.toBe(entryIdentity(canonicalEntry('https://www.evil.example/login')));
    const ftp = canonicalEntry('ftp://evil.example/login');
    expect(entryIdentity(ftp)).toBe(entryField(ftp));
    expect(entryIdentity(ftp)).not.toBe(entryIdentity(canonicalEntry('http://evil.example/login')));
  });

  it('gives expressions and domains their field, never a URL entry\'s identity', () => {
    const expression = canonicalEntry('evil.example/login');
    const domain = canonicalEntry('evil.example');
    expect(entryIdentity(expression)).toBe('e:evil.example/login');
    expect(entryIdentity(domain)).toBe('d:evil.example');
    // An expression that reads like a scheme-less URL is no URL entry.
    expect(entryIdentity({ kind: 'expression', value: 'http://x' })).toBe('e:http://x');
  });

  it('names the fields an entry may be stored under: its own first, then the other scheme\'s', () => {
    expect(entryFields(canonicalEntry('https://evil.example/login'))).toEqual(['u:https://evil.example/login', 'u:http://evil.example/login']);
    expect(entryFields(canonicalEntry('http://evil.example/login'))).toEqual(['u:http://evil.example/login', 'u:https://evil.example/login']);
    expect(entryFields(canonicalEntry('ftp://evil.example/login'))).toEqual(['u:ftp://evil.example/login']);
    expect(entryFields(canonicalEntry('evil.example/'))).toEqual(['e:evil.example/']);
    expect(entryFields(canonicalEntry('evil.example'))).toEqual(['d:evil.example']);
  });
});

describe('URL entries: the host must name one, as for expressions and domains', () => {
  it('refuses a wildcard or otherwise impossible host, with the message expression entries get', () => {
    for (const text of ['http://*.evil.example/', 'https://*.evil.example/login', 'ftp://*.evil.example/', 'http://%2A.evil.example/', 'https://evil.example"/x', 'http://ev il.example/']) {
      expect(() => canonicalEntry(text)).toThrow(`${JSON.stringify(text)} does not name a host (letters, digits, '-', '_' and dots, or an IP address)`);
    }
    expect(() => canonicalEntry('*.evil.example/login', 'url')).toThrow('does not name a host');
    // The same message as an expression's.
    expect(() => canonicalEntry('*.evil.example/')).toThrow(`"*.evil.example/" does not name a host (letters, digits, '-', '_' and dots, or an IP address)`);
  });

  it('lists an entry so that it can be written back: a backslash decoded from %5C is written %5C, not read as a path separator', () => {
    for (const text of ['http://evil.example/a%5Cb', 'evil.example/a%5Cb/', 'http://evil.example/x?q=%5C']) {
      const entry = canonicalEntry(text);
      expect(entry.value).toContain('\\');
      expect(canonicalEntry(entryAsWritten(entry))).toEqual(entry);
    }
    expect(entryAsWritten(canonicalEntry('evil.example'))).toBe('evil.example');
  });

  it("refuses a threat feed's defanged URL (no link has its scheme), but still removes one stored before", () => {
    for (const text of ['hxxp://evil.example/login', 'hXXps://evil.example/', 'fxp://evil.example/']) {
      expect(() => canonicalEntry(text)).toThrow(/is a defanged scheme no link has: write http:\/\/ or https:\/\//);
    }
    expect(canonicalEntry('hxxp://evil.example/login', 'url', { toRemove: true }).value).toBe('hxxp://evil.example/login');
  });

  it('accepts host names, IDNs (as punycode), IP addresses and dotless hosts', () => {
    expect(canonicalEntry('https://Evil.Example:8443/a').value).toBe('https://evil.example/a');
    expect(canonicalEntry('http://bücher.example/').value).toBe('http://xn--bcher-kva.example/');
    expect(canonicalEntry('http://1.2.3.4/x').value).toBe('http://1.2.3.4/x');
    expect(canonicalEntry('http://[::1]/').value).toBe('http://[::1]/');
    expect(canonicalEntry('http://localhost/').value).toBe('http://localhost/');
    expect(canonicalEntry('http://under_score.example/').value).toBe('http://under_score.example/');
  });

  it('lets a URL entry stored before the check be removed', () => {
    expect(canonicalEntry('http://*.evil.example/', undefined, { toRemove: true })).toEqual({ kind: 'url', value: 'http://*.evil.example/' });
  });
});

describe('encodeEntryPatch', () => {
  it('names only the fields a write gives, an empty string to clear one', () => {
    expect(encodeEntryPatch({})).toBe('{}');
    expect(encodeEntryPatch({ label: 'kit-1', addedBy: 'me' })).toBe('{"label":"kit-1","addedBy":"me"}');
    expect(encodeEntryPatch({ label: '' })).toBe('{"label":""}');
  });

  it('writes lone surrogates as U+FFFD (Redis\'s cjson refuses their escapes); pairs stay', () => {
    expect(JSON.parse(encodeEntryPatch({ label: 'a\ud800b\udc00c\ud83d\ude00' }))).toEqual({ label: 'a\ufffdb\ufffdc\ud83d\ude00' });
  });

  it('encodes the stored info the patch is merged into as before (the scripts write the same JSON)', () => {
    const { value } = encodeEntryInfo({ label: 'l', reason: 'r', addedBy: 'a' }, '2024-01-01T00:00:00.000Z');
    expect(value).toBe('2024-01-01T00:00:00.000Z {"label":"l","reason":"r","addedBy":"a"}');
    expect(decodeEntryInfo(value)).toEqual({ label: 'l', reason: 'r', addedBy: 'a', addedAt: '2024-01-01T00:00:00.000Z' });
  });
});
