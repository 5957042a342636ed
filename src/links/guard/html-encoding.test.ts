import { describe, expect, it } from 'vitest';
import { contentTypeCharset, decodeHtml, getEncoding, parseUrlWithEncoding, prescanEncoding, sniffHtmlEncoding } from './html-encoding.js';

const bytes = (latin1: string) => Buffer.from(latin1, 'latin1');

describe('getEncoding', () => {
  it('maps labels as the Encoding standard does', () => {
    expect(getEncoding(' UTF-16 ')).toBe('utf-16le');
    expect(getEncoding('latin1')).toBe('windows-1252');
    expect(getEncoding('ISO-8859-1')).toBe('windows-1252');
    expect(getEncoding('ascii')).toBe('windows-1252');
    expect(getEncoding('Shift_JIS')).toBe('shift_jis');
    expect(getEncoding('iso-2022-kr')).toBe('replacement');
    expect(getEncoding('x-user-defined')).toBe('x-user-defined');
    expect(getEncoding('utf-7')).toBeUndefined();
    expect(getEncoding('')).toBeUndefined();
  });
});

describe('contentTypeCharset', () => {
  it.each([
    ['text/html; charset=windows-1252', 'windows-1252'],
    ['text/html;CHARSET="utf-16le"', 'utf-16le'],
    ['text/html; foo="a;charset=gbk"; charset=koi8-r', 'koi8-r'],
    ['text/html; charset="a\\"b"', 'a"b'],
    ['text/html; charset=; charset=gbk', 'gbk'],
    ['text/html; charset=big5; charset=gbk', 'big5'],
    ['text/html; charset=utf-8 ', 'utf-8'],
  ])('%j -> %j', (value, expected) => {
    expect(contentTypeCharset(value)).toBe(expected);
  });

  it.each([[undefined], ['text/html'], ['text/html; charset'], ['text/html; xcharset=gbk']])('%j has none', (value) => {
    expect(contentTypeCharset(value)).toBeUndefined();
  });

  it.each<[string | string[], string | undefined]>([
    // Read from the type browsers extract from every header and value: the last that parses.
    [['text/html; charset=gbk', 'text/plain; charset=koi8-r'], 'koi8-r'],
    ['text/plain; charset=koi8-r, text/html', undefined],
    ['text/html; charset=gbk, text/html', 'gbk'],
    [['text/html; charset=gbk', 'x/x', 'text/html'], undefined],
    ['text/html; charset="a,b"', 'a,b'],
    ['text/html; charset=gbk, bogus', 'gbk'],
    ['bogus; charset=gbk', undefined],
  ])('%j -> %j (several values)', (value, expected) => {
    expect(contentTypeCharset(value)).toBe(expected);
  });
});

describe('prescanEncoding (HTML prescan of the first 1024 bytes)', () => {
  it.each([
    ['<meta charset="windows-1251">', 'windows-1251'],
    ["<META CHARSET='KOI8-R'>", 'koi8-r'],
    ['<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">', 'shift_jis'],
    ['<meta content="text/html;charset=\'euc-kr\'" http-equiv=content-type>', 'euc-kr'],
    ['<meta http-equiv=content-type content="charset = big5">', 'big5'],
    // Comments, other tags' attributes and markup declarations hide nothing after them.
    ['<!-- <meta charset=gbk> --><meta charset=euc-jp>', 'euc-jp'],
    ['<!--><meta charset=euc-jp>', 'euc-jp'],
    ['<a title="<meta charset=gbk>"><meta charset=euc-jp>', 'euc-jp'],
    ['<!DOCTYPE html><?pi x?></p><meta charset=euc-jp>', 'euc-jp'],
    // UTF-16 declared in an ASCII-compatible byte stream means UTF-8; x-user-defined windows-1252.
    ['<meta charset=utf-16be>', 'utf-8'],
    ['<meta charset=x-user-defined>', 'windows-1252'],
    // An unknown label is no declaration: the next meta counts.
    ['<meta charset=bogus><meta charset=iso-8859-2>', 'iso-8859-2'],
    ['<meta charset=gbk charset=big5>', 'gbk'],
  ])('%j -> %s', (html, expected) => {
    expect(prescanEncoding(bytes(html))).toBe(expected);
  });

  it.each([
    ['a content charset without the pragma', '<meta content="text/html; charset=gbk">'],
    ['a pragma that is not content-type', '<meta http-equiv=refresh content="charset=gbk">'],
    ['a meta in a comment', '<!-- <meta charset=gbk> -->'],
    ['an unclosed comment', '<!-- <meta charset=gbk>'],
    ['a tag cut by the end of input', '<meta charset="gbk'],
    ['<metadata>', '<metadata charset=gbk>'],
    ['an unquoted label running into "/>"', '<meta charset=gbk/>'],
  ])('finds nothing in %s', (_name, html) => {
    expect(prescanEncoding(bytes(html))).toBeUndefined();
  });

  it('reads only the first 1024 bytes', () => {
    expect(prescanEncoding(bytes(`${' '.repeat(1010)}<meta charset=gbk>`))).toBeUndefined();
    expect(prescanEncoding(bytes(`${' '.repeat(900)}<meta charset=gbk>`))).toBe('gbk');
  });
});

describe('sniffHtmlEncoding', () => {
  it('takes a BOM first, then the Content-Type charset, then a meta, then the default', () => {
    const html = bytes('<meta charset=koi8-r>\xe9');
    expect(sniffHtmlEncoding(Buffer.concat([Buffer.from([0xfe, 0xff]), html]), 'text/html; charset=gbk')).toEqual({ encoding: 'utf-16be', source: 'bom' });
    expect(sniffHtmlEncoding(html, 'text/html; charset=gbk')).toEqual({ encoding: 'gbk', source: 'content-type' });
    expect(sniffHtmlEncoding(html, 'text/html; charset=bogus')).toEqual({ encoding: 'koi8-r', source: 'meta' });
    expect(sniffHtmlEncoding(html, ['text/html; charset=gbk', 'text/html'])).toEqual({ encoding: 'gbk', source: 'content-type' });
    expect(sniffHtmlEncoding(html, 'text/html; charset=gbk, text/plain, text/html')).toEqual({ encoding: 'koi8-r', source: 'meta' });
    expect(sniffHtmlEncoding(bytes('caf\xe9'), 'text/html')).toEqual({ encoding: 'windows-1252', source: 'default' });
    expect(sniffHtmlEncoding(Buffer.from('café'), undefined)).toEqual({ encoding: 'utf-8', source: 'default' });
  });

  it('does not hold a UTF-8 sequence cut by the body cap against the page, only one cut by its end', () => {
    const cut = Buffer.from('café').subarray(0, 4);
    expect(sniffHtmlEncoding(cut, undefined, true).encoding).toBe('utf-8');
    expect(sniffHtmlEncoding(cut, undefined, false).encoding).toBe('windows-1252');
  });
});

describe('decodeHtml', () => {
  it('reads windows-1252 0x80-0x9F as the WHATWG index does (Node 20 reads them as C1 controls)', () => {
    expect(decodeHtml(bytes('\x80\x8a\x8d\x9f\xe9'), 'windows-1252')).toBe('€Š\u008dŸé');
  });

  it('drops a BOM, and decodes x-user-defined and the replacement encoding', () => {
    expect(decodeHtml(Buffer.from([0xff, 0xfe, 0x3c, 0x00]), 'utf-16le')).toBe('<');
    expect(decodeHtml(bytes('a\x80\xff'), 'x-user-defined')).toBe('a\uf780\uf7ff');
    expect(decodeHtml(bytes('<meta http-equiv=refresh content="0;url=/x">'), 'replacement')).toBe('\ufffd');
  });
});

describe('parseUrlWithEncoding', () => {
  const base = 'http://a.example/dir/page';

  it.each([
    ['windows-1252', '/café?q=é€', 'http://a.example/caf%C3%A9?q=%E9%80'],
    ['windows-1252', 'x?q=ж', 'http://a.example/dir/x?q=%26%231078%3B'],
    ['windows-1252', '?q=é', 'http://a.example/dir/page?q=%E9'],
    ['windows-1252', 'http://b.example/?q=é#é', 'http://b.example/?q=%E9#%C3%A9'],
    ['windows-1252', '/p#frag?é', 'http://a.example/p#frag?%C3%A9'],
    ['windows-1252', '/p?already=%E9&x=%C3%A9', 'http://a.example/p?already=%E9&x=%C3%A9'],
    ['windows-1252', '/p?q=\ud800', 'http://a.example/p?q=%26%2365533%3B'],
    ['iso-8859-5', '/p?q=ж', 'http://a.example/p?q=%D6'],
    ['koi8-r', '/p?q=ж', 'http://a.example/p?q=%D6'],
    ['utf-16le', '/p?q=é', 'http://a.example/p?q=%C3%A9'],
    ['utf-8', '/p?q=é', 'http://a.example/p?q=%C3%A9'],
    // Multi-byte legacy encodings have no encoder in Node: UTF-8 (documented as not covered).
    ['shift_jis', '/p?q=é', 'http://a.example/p?q=%C3%A9'],
  ])('%s: %j -> %s', (encoding, input, expected) => {
    expect(parseUrlWithEncoding(input, base, encoding).href).toBe(expected);
  });

  it('keeps UTF-8 queries for schemes that are not special, and for ws:', () => {
    expect(parseUrlWithEncoding('foo:x?q=é', base, 'windows-1252').href).toBe('foo:x?q=%C3%A9');
    expect(parseUrlWithEncoding('ws://b.example/?q=é', base, 'windows-1252').href).toBe('ws://b.example/?q=%C3%A9');
  });

  it('throws for what is not a URL, as new URL does', () => {
    expect(() => parseUrlWithEncoding('http://[::1', base, 'windows-1252')).toThrow();
  });
});

describe('hostile input', () => {
  it('stays linear on long runs of whitespace and markup', () => {
    const started = performance.now();
    contentTypeCharset(`text/html; charset=${' '.repeat(200_000)}x`);
    contentTypeCharset(`text/html; charset=x${' '.repeat(200_000)};`);
    getEncoding(`${' '.repeat(200_000)}x`);
    getEncoding(`x${' '.repeat(200_000)}x`);
    for (const unit of ['<a ', '<meta ', '<meta content="charset=', '<!--', 'charset', '<meta charset=x ']) prescanEncoding(bytes(unit.repeat(5_000)));
    expect(performance.now() - started).toBeLessThan(500);
  });
});
