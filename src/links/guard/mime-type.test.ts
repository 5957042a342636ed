import { describe, expect, it } from 'vitest';
import { extractMimeType, isUnknownMimeType, isXmlMimeType, parseMimeType, serializeMimeType, splitHeaderValues } from './mime-type.js';

const parsed = (text: string) => {
  const mime = parseMimeType(text);
  return mime === null ? null : serializeMimeType(mime);
};
const extracted = (header: string | string[] | undefined) => {
  const mime = extractMimeType(header);
  return mime === null ? null : serializeMimeType(mime);
};

describe('splitHeaderValues (Fetch "getting, decoding, and splitting")', () => {
  it.each<[string | string[], string[]]>([
    // The standard's examples.
    ['nosniff,', ['nosniff', '']],
    ['""', ['""']],
    ['text/html;", x/x', ['text/html;", x/x']],
    [['text/html;"', 'x/x'], ['text/html;", x/x']],
    ['x/x;test="hi",y/y', ['x/x;test="hi"', 'y/y']],
    [['x/x;test="hi"', 'y/y'], ['x/x;test="hi"', 'y/y']],
    [['x / x', ',,,1'], ['x / x', '', '', '', '1']],
    [['"1,2", 3'], ['"1,2"', '3']],
    ['"1,\\"2", 3', ['"1,\\"2"', '3']],
    ['text/html;charset="a,b"', ['text/html;charset="a,b"']],
    [' \ttext/plain , text/html\t', ['text/plain', 'text/html']],
  ])('%j -> %j', (header, values) => {
    expect(splitHeaderValues(header)).toEqual(values);
  });

  it('is undefined without the header', () => {
    expect(splitHeaderValues(undefined)).toBeUndefined();
    expect(splitHeaderValues([])).toBeUndefined();
  });
});

describe('parseMimeType (MIME Sniffing "parse a MIME type")', () => {
  it.each([
    ['text/html;charset=gbk', 'text/html;charset=gbk'],
    [' TEXT/HTML;CHARSET=GBK ', 'text/html;charset=GBK'],
    ['text/html;charset="gbk"', 'text/html;charset=gbk'],
    ['text/html;charset="gbk', 'text/html;charset=gbk'],
    ['text/html;charset="\\gbk"', 'text/html;charset=gbk'],
    ['text/html;charset="gbk"x', 'text/html;charset=gbk'],
    ['text/html;charset=gbk;charset=windows-1255', 'text/html;charset=gbk'],
    ['text/html;charset=";charset=foo";charset=gbk', 'text/html;charset=";charset=foo"'],
    ['text/html;charset="a,b"', 'text/html;charset="a,b"'],
    ['text/html;charset=();charset=GBK', 'text/html;charset="()"'],
    ['text/html;charset= "gbk"', 'text/html;charset=" \\"gbk\\""'],
    ['text/html;charset=gbk ', 'text/html;charset=gbk'],
    ['text/html ;charset=gbk', 'text/html;charset=gbk'],
    ['text/html; charset=gbk', 'text/html;charset=gbk'],
    ['text/html;;;;charset=gbk', 'text/html;charset=gbk'],
    ['text/html;charset =gbk', 'text/html'],
    ['text/html;test;charset=gbk', 'text/html;charset=gbk'],
    ['text/html;test=;charset=gbk', 'text/html;charset=gbk'],
    ['text/html;test="";charset=gbk', 'text/html;test="";charset=gbk'],
    ["text/html;charset=';charset=GBK", "text/html;charset='"],
    ['text/html;x=(;charset=gbk', 'text/html;x="(";charset=gbk'],
    ['text/html;\u0100=x;charset=gbk', 'text/html;charset=gbk'],
    ['text/html;x=\u0100;charset=gbk', 'text/html;charset=gbk'],
    ['text/html;charset=\u00ff', 'text/html;charset="\u00ff"'],
    ['*/*', '*/*'],
    ['x/x', 'x/x'],
  ])('%j -> %j', (text, serialized) => {
    expect(parsed(text)).toBe(serialized);
  });

  it.each(['', ' ', '/html', 'text/', 'text', 'text /html', 'te xt/html', 'text/ht ml', 'text/html(;doesnot=matter', '{/}', 'cannot-parse', '\u0100/x', 'x/\u0100'])(
    '%j fails',
    (text) => {
      expect(parseMimeType(text)).toBeNull();
    },
  );
});

describe('extractMimeType (Fetch "extract a MIME type")', () => {
  it.each<[string | string[], string | null]>([
    // The standard's examples.
    ['text/plain;charset=gbk, text/html', 'text/html'],
    ['text/html;charset=gbk;a=b, text/html;x=y', 'text/html;x=y;charset=gbk'],
    [['text/html;charset=gbk;a=b', 'text/html;x=y'], 'text/html;x=y;charset=gbk'],
    [['text/html;charset=gbk', 'x/x', 'text/html;x=y'], 'text/html;x=y'],
    [['text/html', 'cannot-parse'], 'text/html'],
    [['text/html', '*/*'], 'text/html'],
    [['text/html', ''], 'text/html'],
    // What browsers render as HTML, a first-value reader as text.
    [['text/plain', 'text/html'], 'text/html'],
    ['text/plain, text/html', 'text/html'],
    ['text/html, foo', 'text/html'],
    ['text/html, text/plain', 'text/plain'],
    // A comma inside a quoted string splits nothing; outside one it does.
    ['text/html;charset="a,b"', 'text/html;charset="a,b"'],
    ['text/plain;charset="x, text/html"', 'text/plain;charset="x, text/html"'],
    ['text/html;charset=a,b', 'text/html;charset=a'],
    // Charset carry-over: only within one essence, from the first value of that essence.
    ['text/html;charset=gbk, text/html', 'text/html;charset=gbk'],
    ['text/html;charset=gbk, text/html;charset=utf-8', 'text/html;charset=utf-8'],
    ['text/html;charset=gbk, text/html;charset=utf-8, text/html', 'text/html;charset=gbk'],
    ['text/html;charset=gbk, text/plain, text/html', 'text/html'],
    ['text/html;charset=gbk, */*, TEXT/HTML', 'text/html;charset=gbk'],
    ['text/html;charset=gbk, bogus, text/html', 'text/html;charset=gbk'],
    ['application/octet-stream', 'application/octet-stream'],
    ['text/html; charset=utf-8', 'text/html;charset=utf-8'],
  ])('%j -> %j', (header, serialized) => {
    expect(extracted(header)).toBe(serialized);
  });

  it.each<[string | string[] | undefined]>([[undefined], [[]], [''], ['*/*'], ['cannot-parse'], [['*/*', 'foo', '']], ['; charset=utf-8']])('%j has none', (header) => {
    expect(extractMimeType(header)).toBeNull();
  });

  it('reads long values in linear time', () => {
    const started = performance.now();
    extractMimeType(`text/html; charset=${' '.repeat(200_000)}x`);
    extractMimeType(`text/html; charset="${'\\"'.repeat(100_000)}`);
    extractMimeType(`${','.repeat(100_000)}text/html`);
    extractMimeType(`"${'a'.repeat(200_000)}`);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('isUnknownMimeType / isXmlMimeType', () => {
  const mime = (text: string) => parseMimeType(text)!;
  it('unknown/unknown, application/unknown and */* are sniffed like an undeclared type', () => {
    expect(['unknown/unknown', 'Application/Unknown; x=1', '*/*'].map((t) => isUnknownMimeType(mime(t)))).toEqual([true, true, true]);
    expect(['text/html', 'text/plain', 'application/octet-stream'].map((t) => isUnknownMimeType(mime(t)))).toEqual([false, false, false]);
  });
  it('text/xml, application/xml and +xml types are XML', () => {
    expect(['application/xhtml+xml', 'text/xml', 'application/xml', 'image/svg+xml', 'text/html'].map((t) => isXmlMimeType(mime(t)))).toEqual([true, true, true, true, false]);
  });
});
