import { describe, expect, it } from 'vitest';
import { findMetaRefresh, htmlParseWork, metaRefreshes, PARSE_WORK_LIMIT, parseRefreshContent, RefreshScanTooComplex, type MetaRefresh } from './meta-refresh.js';

/**
 * A parsed refresh: `exact` is the delay as Chromium reads it (fraction kept), `chromiumUrl` the
 * URL as it cuts it (by default the same URL, none for an empty one).
 */
function refresh(delaySeconds: number, url?: string, exactDelaySeconds = delaySeconds, chromiumUrl = url === '' ? undefined : url): MetaRefresh {
  if (url === undefined) return { delaySeconds, exactDelaySeconds };
  return chromiumUrl === undefined ? { delaySeconds, exactDelaySeconds, url } : { delaySeconds, exactDelaySeconds, url, chromiumUrl };
}

describe('parseRefreshContent', () => {
  it.each([
    ['0;url=/next', refresh(0, '/next')],
    ['0; URL=/next', refresh(0, '/next')],
    // The URL is kept as written: the URL parser strips leading and trailing spaces itself.
    ['5 ; url = http://a.example/x ', refresh(5, 'http://a.example/x ', 5, 'http://a.example/x')],
    ["0; url='http://a.example/q?x=1'", refresh(0, 'http://a.example/q?x=1')],
    ['0; url="http://a.example/"trailing', refresh(0, 'http://a.example/')],
    ['0; url="http://a.example/', refresh(0, 'http://a.example/')],
    ["0;'/quoted'tail", refresh(0, '/quoted')],
    ['3,http://a.example/', refresh(3, 'http://a.example/')],
    ['0 /space-separated', refresh(0, '/space-separated')],
    ['0\t;url=/tab', refresh(0, '/tab')],
    ['1.5; url=/x', refresh(1, '/x', 1.5)],
    ['.5;url=/x', refresh(0, '/x', 0.5)],
    ['2.5.9;url=/x', refresh(2, '/x', 2.5)],
    ['0;/no-url-keyword', refresh(0, '/no-url-keyword')],
    // `u`, `ur`, or `url` not followed by `=`: the whole rest is the URL.
    ['0; urlish', refresh(0, 'urlish')],
    ['0; u=/x', refresh(0, 'u=/x')],
    ['0; ur=/x', refresh(0, 'ur=/x')],
    ['0; url /x', refresh(0, 'url /x')],
  ])('%j', (content, expected) => {
    expect(parseRefreshContent(content)).toEqual(expected);
  });

  it.each([
    ['5', refresh(5)],
    ['  10  ', refresh(10)],
    ['0;', refresh(0)],
    // An empty URL is still a URL: the document base URL (the page itself without <base>).
    ['0; url=', refresh(0, '')],
    // To Chromium, `""` opens a quote that closes nowhere: the URL `"`.
    ['0;url=""', refresh(0, '', 0, '"')],
  ])('%j refreshes the document itself (valid: it counts)', (content, expected) => {
    expect(parseRefreshContent(content)).toEqual(expected);
  });

  it.each([[''], ['   '], ['abc; url=/x'], [';url=/x'], ['url=/x'], ['5abc'], ['0url=/x'], ['1e3;url=/x'], ['0:url=/x'], ['-1;url=/x'], ['+1;url=/x'], ['0x10']])(
    '%j is invalid: browsers ignore it',
    (content) => {
      expect(parseRefreshContent(content)).toBeNull();
    },
  );

  it.each([
    // Chromium and WebKit run a quoted URL to the last matching quote, not the first.
    ["0;url='http://good.example'.evil.example/'", refresh(0, 'http://good.example', 0, "http://good.example'.evil.example/")],
    ['0;url="/a"b"', refresh(0, '/a', 0, '/a"b')],
    ["0;url=''", refresh(0, '', 0, "'")],
    // They strip whitespace around the URL, Unicode spaces included; the URL parser does not.
    ['0;url=\u3000http://evil.example/', refresh(0, '\u3000http://evil.example/', 0, 'http://evil.example/')],
    ['0;url=http://evil.example/\u2028', refresh(0, 'http://evil.example/\u2028', 0, 'http://evil.example/')],
    ['0;url=\u00a0/x', refresh(0, '\u00a0/x')],
  ])('%j as Chromium cuts it', (content, expected) => {
    expect(parseRefreshContent(content)).toEqual(expected);
  });

  it('reads a Refresh header as Chromium does: only spaces and tabs separate', () => {
    expect(parseRefreshContent('0;\furl=/x', 'header')).toEqual(refresh(0, '/x', 0, 'url=/x'));
    expect(parseRefreshContent('0;\furl=/x')).toEqual(refresh(0, '/x'));
  });

  it('keeps a delay too long for a number finite', () => {
    expect(parseRefreshContent(`${'9'.repeat(400)};url=/x`)).toEqual(refresh(Number.MAX_SAFE_INTEGER, '/x'));
  });
});

describe('findMetaRefresh', () => {
  it('finds the tag whatever the case, quoting and attribute order', () => {
    expect(findMetaRefresh('<META CONTENT="0;URL=/a" HTTP-EQUIV="REFRESH">')).toMatchObject({ delaySeconds: 0, url: '/a' });
    expect(findMetaRefresh("<meta http-equiv='refresh' content='2;url=/b'/>")).toMatchObject({ delaySeconds: 2, url: '/b' });
    expect(findMetaRefresh('<meta http-equiv=refresh content="0;url=/c">')).toMatchObject({ delaySeconds: 0, url: '/c' });
    expect(findMetaRefresh('<head>\n<meta\n  http-equiv="refresh"\n  content="0;url=/d">')).toMatchObject({ delaySeconds: 0, url: '/d' });
  });

  it('ignores other meta tags, comments, scripts and styles', () => {
    expect(findMetaRefresh('<meta charset="utf-8"><meta name="refresh" content="0;url=/x">')).toBeNull();
    expect(findMetaRefresh('<!-- <meta http-equiv="refresh" content="0;url=/x"> -->')).toBeNull();
    expect(findMetaRefresh('<script>var s = \'<meta http-equiv="refresh" content="0;url=/x">\';</script>')).toBeNull();
    expect(findMetaRefresh('<style>/* <meta http-equiv="refresh" content="0;url=/x"> */</style>')).toBeNull();
    expect(findMetaRefresh('<metadata http-equiv="refresh" content="0;url=/x">')).toBeNull();
  });

  it.each([
    ['<!-->', '<!--><meta http-equiv="refresh" content="0;url=https://phish.example/"><!-- later -->'],
    ['<!--->', '<!---><meta http-equiv="refresh" content="0;url=https://phish.example/"><!-- later -->'],
    ['--!>', '<!-- x --!><meta http-equiv="refresh" content="0;url=https://phish.example/"><!-- later -->'],
  ])('sees a tag after a comment closed by %s (complete comments to the WHATWG tokenizer)', (_closer, html) => {
    expect(findMetaRefresh(html)).toMatchObject({ delaySeconds: 0, url: 'https://phish.example/' });
  });

  it('keeps hiding a tag in a comment that only looks closed', () => {
    expect(findMetaRefresh('<!--!><meta http-equiv="refresh" content="0;url=/x"> still a comment')).toBeNull();
    expect(findMetaRefresh('<!---!><meta http-equiv="refresh" content="0;url=/x"> still a comment')).toBeNull();
  });

  it('decodes character references in attribute values, as browsers do', () => {
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=http&#58;//evil.example/">')?.url).toBe('http://evil.example/');
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=https&colon;&sol;&sol;evil.example/?a=1&amp;b=2">')?.url).toBe('https://evil.example/?a=1&b=2');
    expect(findMetaRefresh('<meta http-equiv="&#x72;efresh" content="0;url=/x">')?.url).toBe('/x');
    // A bare ampersand that starts no reference is kept, as browsers keep it.
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=/search?q=a&b=c">')?.url).toBe('/search?q=a&b=c');
  });

  it('takes the first tag with valid content, a plain reload included (the HTML standard)', () => {
    expect(findMetaRefresh('<meta http-equiv="refresh" content="30">')).toEqual(refresh(30));
    const html = '<meta http-equiv="refresh" content="9"><meta http-equiv="refresh" content="0;url=/first"><meta http-equiv="refresh" content="0;url=/second">';
    expect(findMetaRefresh(html)).toEqual(refresh(9));
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url="><meta http-equiv="refresh" content="0;url=/second">')).toEqual(refresh(0, ''));
  });

  it('skips tags whose content is invalid, as browsers do', () => {
    const html = (first: string) => `<meta http-equiv="refresh" content="${first}"><meta http-equiv="refresh" content="0;url=/real">`;
    for (const decoy of ['0url=/decoy', '5abc', '1e3;url=/decoy', '', 'url=/decoy']) expect(findMetaRefresh(html(decoy))?.url).toBe('/real');
  });

  it('matches http-equiv ASCII case-insensitively, without trimming it', () => {
    const html = (equiv: string) => `<meta http-equiv="${equiv}" content="0;url=/decoy"><meta http-equiv="refresh" content="0;url=/real">`;
    for (const decoy of [' refresh', 'refresh ', 'refresh;', '\trefresh', '&#32;refresh', 're fresh']) expect(findMetaRefresh(html(decoy))?.url).toBe('/real');
    expect(findMetaRefresh('<meta http-equiv="ReFrEsH" content="0;url=/a">')?.url).toBe('/a');
  });

  it('lists every valid refresh in document order, each with its <base href>', () => {
    const html =
      '<meta http-equiv="refresh" content="30"><meta http-equiv="refresh" content="0url=/bad">' +
      '<base href="/kit/"><meta http-equiv="refresh" content="0;url=a"><noscript><meta http-equiv="refresh" content="0;url=b"></noscript>' +
      '<meta http-equiv="refresh" content="0.5,c">';
    expect([...metaRefreshes(html)]).toEqual([refresh(30), { ...refresh(0, 'a'), baseHref: '/kit/' }, { ...refresh(0, 'c', 0.5), baseHref: '/kit/' }]);
  });

  it('sees no refresh after a <frameset> that replaces the body: the parser drops every later <meta>', () => {
    const at = (url: string) => `<meta http-equiv="refresh" content="0;url=${url}">`;
    const urls = (html: string) => [...metaRefreshes(html)].map((r) => r.url);
    // A decoy after the frameset, for scanners only (parse5, Chromium and Firefox drop it).
    expect(urls(`<html><head>${at('/real')}</head>\n<frameset><frame src="/x">${at('/decoy')}</frameset>`)).toEqual(['/real']);
    expect(urls(`<!doctype html><!-- c --> <title>t</title><frameset>${at('/decoy')}`)).toEqual([]);
    // Once the body has begun (an explicit <body>, text, an <img>), a <frameset> is ignored and later refreshes count.
    expect(urls(`<head></head><body><frameset>${at('/later')}`)).toEqual(['/later']);
    expect(urls(`<p>hello</p><frameset>${at('/later')}`)).toEqual(['/later']);
    expect(urls(`<img src=x><frameset>${at('/later')}`)).toEqual(['/later']);
    // A <frameset> inside a template is inert.
    expect(urls(`<template><frameset></template>${at('/later')}`)).toEqual(['/later']);
  });

  it('lists thousands of refreshes in linear time', () => {
    const started = performance.now();
    expect([...metaRefreshes('<meta http-equiv=refresh content=0;url=/x>'.repeat(20_000))]).toHaveLength(20_000);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('stays linear on hostile input', () => {
    for (const unit of ['<meta', '<!--', '<script', '<meta http-equiv="refresh" content="', '<!---->', '<!-->', '<script></script>']) {
      const started = performance.now();
      findMetaRefresh(unit.repeat(20_000));
      expect(performance.now() - started).toBeLessThan(500);
    }
  });
});

describe('findMetaRefresh: attributes tokenized as the HTML tokenizer does', () => {
  it('keeps "=" in an unquoted value (it runs to whitespace or ">")', () => {
    expect(findMetaRefresh('<meta http-equiv=refresh content=0;url=https://evil.example/landing>')).toMatchObject({
      delaySeconds: 0,
      url: 'https://evil.example/landing',
    });
    // The "/" of "/>" belongs to an unquoted value, as in browsers.
    expect(findMetaRefresh('<meta http-equiv=refresh content=0;url=/a?b=c&d=e/>')?.url).toBe('/a?b=c&d=e/');
    expect(findMetaRefresh('<meta content=0;url=/x http-equiv=refresh/>')).toBeNull();
  });

  it('reads a ">" inside a quoted value as part of the value, not the end of the tag', () => {
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0; url=https://evil.example/a>b">')).toMatchObject({
      delaySeconds: 0,
      url: 'https://evil.example/a>b',
    });
    expect(findMetaRefresh("<meta data-x='>' http-equiv=\"refresh\" content='0;url=/after-gt'>")?.url).toBe('/after-gt');
  });

  it('sees no tag inside another tag\'s attribute value, and no comment or script opener either', () => {
    expect(findMetaRefresh('<div title="<meta http-equiv=refresh content=0;url=/x>">text</div>')).toBeNull();
    expect(findMetaRefresh('<a title="<!--">x</a><meta http-equiv="refresh" content="0;url=/shown">')?.url).toBe('/shown');
    expect(findMetaRefresh('<a title="<script>">x</a><meta http-equiv="refresh" content="0;url=/shown">')?.url).toBe('/shown');
  });

  it('keeps positions right after characters whose lowercase is longer (İ)', () => {
    expect(findMetaRefresh(`<p>${'İ'.repeat(40)}</p><meta http-equiv="refresh" content="0;url=/after">`)?.url).toBe('/after');
  });

  it('lets the first attribute of a name win and drops a tag cut by the end of input', () => {
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=/first" content="0;url=/second">')?.url).toBe('/first');
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=/x"')).toBeNull();
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=/x>')).toBeNull();
  });
});

describe('findMetaRefresh: elements a browser does not act on', () => {
  it.each([
    ['noscript', '<noscript><meta http-equiv="refresh" content="0;url=/decoy"></noscript>'],
    ['template', '<template><meta http-equiv="refresh" content="0;url=/decoy"></template>'],
    ['nested template', '<template><template></template><meta http-equiv="refresh" content="0;url=/decoy"></template>'],
    ['title', '<title><meta http-equiv="refresh" content="0;url=/decoy"></title>'],
    ['textarea', '<textarea><meta http-equiv="refresh" content="0;url=/decoy"></textarea>'],
    ['iframe', '<iframe><meta http-equiv="refresh" content="0;url=/decoy"></iframe>'],
  ])('skips a refresh inside %s and finds the one after it', (_name, hidden) => {
    expect(findMetaRefresh(hidden)).toBeNull();
    expect(findMetaRefresh(`${hidden}<meta http-equiv="refresh" content="0;url=/real">`)?.url).toBe('/real');
  });

  it('ends raw text only at its own end tag', () => {
    expect(findMetaRefresh('<title></titles><meta http-equiv="refresh" content="0;url=/decoy"></title>')).toBeNull();
    expect(findMetaRefresh('<noscript><meta http-equiv="refresh" content="0;url=/decoy">')).toBeNull();
    expect(findMetaRefresh('<NOSCRIPT>x</NoScript ><meta http-equiv="refresh" content="0;url=/real">')?.url).toBe('/real');
  });

  it('does not take <noscripts> or <titles> for raw-text elements', () => {
    expect(findMetaRefresh('<titles><meta http-equiv="refresh" content="0;url=/real">')?.url).toBe('/real');
  });
});

describe('findMetaRefresh: <base href>', () => {
  it('reports the first <base href> before the refresh', () => {
    expect(findMetaRefresh('<base href="https://cdn.example/dir/"><base href="/other/"><meta http-equiv="refresh" content="0;url=next">')).toMatchObject({
      delaySeconds: 0,
      url: 'next',
      baseHref: 'https://cdn.example/dir/',
    });
    expect(findMetaRefresh('<base target="_top"><base href=https&#58;//cdn.example/><meta http-equiv="refresh" content="0;url=next">')?.baseHref).toBe(
      'https://cdn.example/',
    );
  });

  it('ignores a <base> after the refresh (not in the document yet when the refresh is parsed) or in a template', () => {
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=next"><base href="https://cdn.example/">')).toEqual(refresh(0, 'next'));
    expect(findMetaRefresh('<template><base href="https://cdn.example/"></template><meta http-equiv="refresh" content="0;url=next">')).toEqual(
      refresh(0, 'next'),
    );
  });
});

describe('metaRefreshes: HTML as the WHATWG parser reads it', () => {
  const urls = (html: string) => [...metaRefreshes(html)].map((r) => r.url);

  it.each([
    ['svg style', '<svg><style><meta http-equiv="refresh" content="0;url=/phish/login"></style></svg>'],
    ['svg title', '<svg><title><meta http-equiv="refresh" content="0;url=/phish/login"></title></svg>'],
    ['math style', '<math><style><meta http-equiv="refresh" content="0;url=/phish/login"></style></math>'],
  ])('a <meta> breaks out of foreign content (%s): style and title are not raw text there', (_, html) => {
    expect(urls(`<html><body>${html}</body></html>`)).toEqual(['/phish/login']);
  });

  it('CDATA inside <svg> hides a decoy; only the real refresh counts', () => {
    const html = '<svg><![CDATA[ > <meta http-equiv="refresh" content="0;url=/decoy"> ]]></svg><meta http-equiv="refresh" content="1;url=/phish/login">';
    expect(urls(html)).toEqual(['/phish/login']);
  });

  it('a script-data double escape hides a decoy; only the real refresh counts', () => {
    const html = '<head><script><!--<script></script><meta http-equiv="refresh" content="0;url=/decoy"></script><meta http-equiv="refresh" content="1;url=/phish/login">';
    expect(urls(html)).toEqual(['/phish/login']);
  });

  it('keeps the raw-text, noscript and template rules outside foreign content', () => {
    const refresh = (url: string) => `<meta http-equiv="refresh" content="0;url=${url}">`;
    const html = `<style>${refresh('/a')}</style><noscript>${refresh('/b')}</noscript><template>${refresh('/c')}</template><title>${refresh('/d')}</title>${refresh('/real')}`;
    expect(urls(html)).toEqual(['/real']);
  });

  it('counts a refresh in a body a later <frameset> replaces (browsers act on it when inserted), none after the frameset', () => {
    const html = '<div><meta http-equiv="refresh" content="0;url=/phish"></div><frameset><meta http-equiv="refresh" content="0;url=/decoy">';
    expect(urls(html)).toEqual(['/phish']);
  });

  it("counts a <meta> in <select> (Chromium's select parser keeps it)", () => {
    expect(urls('<select><meta http-equiv="refresh" content="0;url=/phish"></select>')).toEqual(['/phish']);
  });

  it('reports the first <base href> in tree order, a <base> fostered out of a table included', () => {
    const base = (html: string) => [...metaRefreshes(html)].map((r) => r.baseHref);
    expect(base('<base href="/one/"><base href="/two/"><meta http-equiv="refresh" content="0;url=x">')).toEqual(['/one/']);
    expect(base('<meta http-equiv="refresh" content="0;url=x"><base href="/late/">')).toEqual([undefined]);
    expect(base('<table><tr><td><base href="/cell/"></td></tr><base href="/fostered/"></table><meta http-equiv="refresh" content="0;url=x">')).toEqual(['/fostered/']);
    expect(base('<svg><base href="/svg/"></svg><meta http-equiv="refresh" content="0;url=x">')).toEqual([undefined]);
  });

  it('throws RefreshScanTooComplex on hostile nesting within tens of milliseconds, not a parse of seconds', () => {
    const meta = '<meta http-equiv="refresh" content="0;url=/x">';
    for (const html of [meta + '<div>'.repeat(13_000), meta + '<div ' + Array.from({ length: 8000 }, (_, i) => `a${i}=1`).join(' ') + '>']) {
      const start = performance.now();
      expect(() => [...metaRefreshes(html)]).toThrow(RefreshScanTooComplex);
      expect(performance.now() - start).toBeLessThan(1_000);
    }
  });

  it('an ordinary 64 KiB page stays far below the work limit', () => {
    const page = '<div class="row"><p>Some <b>text</b> and <a href="/x?a=1&amp;b=2">a link</a></p></div>\n'.repeat(720);
    expect(htmlParseWork(page)).toBeLessThan(PARSE_WORK_LIMIT / 10);
  });

  const prose = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ';
  const meta = '<meta http-equiv="refresh" content="0;url=/phish/login">';
  it.each([
    // Classic WYSIWYG markup: the <font> is reopened after each paragraph, one more per paragraph.
    ['a <font> per paragraph', `${'<p><font face="Arial" size="2">prose</p>'.repeat(1500)}${meta}`],
    ['a <font> per paragraph, lines between', `${`<p><font face="Arial" size="2">${prose}</p>\n`.repeat(510)}${meta}`],
    ['150 unclosed <div>s then prose', `${'<div>'.repeat(150)}${prose.repeat(740)}${meta}`],
    ['an unclosed <font> under 150 unclosed <div>s, then prose', `<font size="2">${'<div>'.repeat(150)}${prose.repeat(740)}${meta}`],
  ])('reads sloppy 60 KB pages within the limit (%s): text is appended, not scoped', (_, page) => {
    expect(page.length).toBeGreaterThan(59_000);
    expect(urls(page)).toEqual(['/phish/login']);
    expect(htmlParseWork(page)).toBeLessThan(PARSE_WORK_LIMIT / 2);
  });

  it.each([
    // Foster parenting inserts each node before the table: O(1) in the scan's tree, not a search of the children.
    ['text and <br> fostered out of a <table>', `${meta}<table>${'x<br>'.repeat(13_100)}`],
    // The adoption agency moves the furthest block's thousands of children one by one.
    ['the adoption agency moving 26 000 nodes', `${meta}<a><div>${'x<br>'.repeat(13_000)}</a>`],
    // <body> start tags adopt their attributes into the body element: O(attributes adopted).
    ['thousands of <body> tags adopting attributes', `${meta}${Array.from({ length: 5500 }, (_, i) => `<body a${i}>`).join('')}`],
  ])('reads a hostile 64 KiB page with %s in linear time', (_, page) => {
    expect(page.length).toBeGreaterThan(60_000);
    expect(htmlParseWork(page)).toBeLessThan(PARSE_WORK_LIMIT / 4);
    const started = performance.now();
    expect(urls(page)).toEqual(['/phish/login']);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('metaRefreshes: XML syntax (XHTML)', () => {
  const xhtml = (head: string) => `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>${head}</head><body>hi</body></html>`;
  const urls = (text: string) => [...metaRefreshes(text, 'xml')].map((r) => r.url);

  it('has no raw-text elements and no noscript rule', () => {
    expect(urls(xhtml('<noscript><meta http-equiv="refresh" content="0;url=/phish/login"/></noscript>'))).toEqual(['/phish/login']);
    expect(urls(xhtml('<style><meta http-equiv="refresh" content="0;url=/phish/login"/></style>'))).toEqual(['/phish/login']);
  });

  it('skips comments, CDATA sections and processing instructions', () => {
    const decoy = '<meta http-equiv="refresh" content="0;url=/decoy"/>';
    const real = '<meta http-equiv="refresh" content="1;url=/phish/login"/>';
    expect(urls(xhtml(`<script><![CDATA[ > ${decoy} ]]></script><!-- - ${decoy} --><?pi ${decoy} ?>${real}`))).toEqual(['/phish/login']);
    // `--` inside a comment is a well-formedness error (expat stops there, `--!>` included).
    expect(urls(xhtml(`<!-- --!> ${decoy} -->${real}`))).toEqual([]);
  });

  it.each([
    ['a quote in a comment', "<!-- it's fine -->"],
    ['a ] in a comment', '<!-- ] -->'],
    ['a quote and ]> in a processing instruction', '<?pi ] " ?>'],
    [']> in a literal of a declaration', '<!ELEMENT x ANY> <!NOTATION n SYSTEM "]>">'],
    ['a parameter-entity reference', '%pe;'],
  ])('reads past a doctype whose internal subset holds %s (expat does)', (_, subset) => {
    const page = `<!DOCTYPE html [ ${subset} ]><html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="refresh" content="0;url=/phish/login"/></head><body>hi</body></html>`;
    expect(urls(page)).toEqual(['/phish/login']);
    expect(urls(`<!DOCTYPE html SYSTEM "a]>b" [ ${subset} ] >${page.slice(page.indexOf('<html'))}`)).toEqual(['/phish/login']);
  });

  it.each([
    ['declares attribute defaults (a meta made a refresh)', '<!DOCTYPE html [<!ATTLIST meta http-equiv CDATA "refresh">]>'],
    ['declares a default xmlns', '<!DOCTYPE html [<!ATTLIST html xmlns CDATA #FIXED "http://www.w3.org/1999/xhtml">]>'],
    ['holds an unterminated comment', '<!DOCTYPE html [ <!-- ]>'],
    ['holds an unterminated literal', '<!DOCTYPE html [ <!NOTATION n SYSTEM "x> ]>'],
    ['holds an unknown construct', '<!DOCTYPE html [ x ]>'],
    ['does not end', '<!DOCTYPE html [ '],
  ])('fails closed on a doctype that %s', (_, doctype) => {
    expect(() => urls(`${doctype}<html xmlns="http://www.w3.org/1999/xhtml"><meta http-equiv="refresh" content="0;url=/p"/></html>`)).toThrow(RefreshScanTooComplex);
  });

  it('counts only XHTML-namespace elements, names case-sensitive, and a prefixed one', () => {
    expect(urls(xhtml('<meta xmlns="urn:other" http-equiv="refresh" content="0;url=/decoy"/><META http-equiv="refresh" content="0;url=/decoy"/>'))).toEqual([]);
    expect(urls('<x:html xmlns:x="http://www.w3.org/1999/xhtml"><x:meta http-equiv="refresh" content="0;url=/phish"/></x:html>')).toEqual(['/phish']);
    expect(urls('<html><meta http-equiv="refresh" content="0;url=/no-namespace"/></html>')).toEqual([]);
  });

  it('stops at a well-formedness error, as the XML parser does', () => {
    expect(urls(xhtml('<meta http-equiv="refresh" content="1;url=/real"/></wrong><meta http-equiv="refresh" content="0;url=/decoy"/>'))).toEqual(['/real']);
  });

  it('keeps template contents inert and reports <base href>', () => {
    const found = [...metaRefreshes(xhtml('<template><meta http-equiv="refresh" content="0;url=/decoy"/></template><base href="/b/"/><meta http-equiv="refresh" content="0;url=x"/>'), 'xml')];
    expect(found.map((r) => [r.url, r.baseHref])).toEqual([['x', '/b/']]);
  });

  it('throws RefreshScanTooComplex for a doctype that declares entities', () => {
    expect(() => [...metaRefreshes('<!DOCTYPE html [<!ENTITY r "<meta/>">]><html xmlns="http://www.w3.org/1999/xhtml">&r;</html>', 'xml')]).toThrow(RefreshScanTooComplex);
  });
});
