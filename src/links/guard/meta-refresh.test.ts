import { describe, expect, it } from 'vitest';
import { findMetaRefresh, parseRefreshContent } from './meta-refresh.js';

describe('parseRefreshContent', () => {
  it.each([
    ['0;url=/next', { delaySeconds: 0, url: '/next' }],
    ['0; URL=/next', { delaySeconds: 0, url: '/next' }],
    ['5 ; url = http://a.example/x ', { delaySeconds: 5, url: 'http://a.example/x' }],
    ["0; url='http://a.example/q?x=1'", { delaySeconds: 0, url: 'http://a.example/q?x=1' }],
    ['0; url="http://a.example/"trailing', { delaySeconds: 0, url: 'http://a.example/' }],
    ['3,http://a.example/', { delaySeconds: 3, url: 'http://a.example/' }],
    ['1.5; url=/x', { delaySeconds: 1, url: '/x' }],
    ['0;/no-url-keyword', { delaySeconds: 0, url: '/no-url-keyword' }],
    ['0; urlish', { delaySeconds: 0, url: 'urlish' }],
  ])('%j', (content, expected) => {
    expect(parseRefreshContent(content)).toEqual(expected);
  });

  it.each([[''], ['5'], ['  10  '], ['abc; url=/x'], ['0; url='], ['0;url=""']])('%j has no target', (content) => {
    expect(parseRefreshContent(content)).toBeNull();
  });
});

describe('findMetaRefresh', () => {
  it('finds the tag whatever the case, quoting and attribute order', () => {
    expect(findMetaRefresh('<META CONTENT="0;URL=/a" HTTP-EQUIV="REFRESH">')).toEqual({ delaySeconds: 0, url: '/a' });
    expect(findMetaRefresh("<meta http-equiv='refresh' content='2;url=/b'/>")).toEqual({ delaySeconds: 2, url: '/b' });
    expect(findMetaRefresh('<meta http-equiv=refresh content="0;url=/c">')).toEqual({ delaySeconds: 0, url: '/c' });
    expect(findMetaRefresh('<head>\n<meta\n  http-equiv="refresh"\n  content="0;url=/d">')).toEqual({ delaySeconds: 0, url: '/d' });
  });

  it('ignores other meta tags, plain reloads, comments, scripts and styles', () => {
    expect(findMetaRefresh('<meta charset="utf-8"><meta name="refresh" content="0;url=/x">')).toBeNull();
    expect(findMetaRefresh('<meta http-equiv="refresh" content="30">')).toBeNull();
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
    expect(findMetaRefresh(html)).toEqual({ delaySeconds: 0, url: 'https://phish.example/' });
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

  it('takes the first tag with a target', () => {
    const html = '<meta http-equiv="refresh" content="9"><meta http-equiv="refresh" content="0;url=/first"><meta http-equiv="refresh" content="0;url=/second">';
    expect(findMetaRefresh(html)?.url).toBe('/first');
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
    expect(findMetaRefresh('<meta http-equiv=refresh content=0;url=https://evil.example/landing>')).toEqual({
      delaySeconds: 0,
      url: 'https://evil.example/landing',
    });
    // The "/" of "/>" belongs to an unquoted value, as in browsers.
    expect(findMetaRefresh('<meta http-equiv=refresh content=0;url=/a?b=c&d=e/>')?.url).toBe('/a?b=c&d=e/');
    expect(findMetaRefresh('<meta content=0;url=/x http-equiv=refresh/>')).toBeNull();
  });

  it('reads a ">" inside a quoted value as part of the value, not the end of the tag', () => {
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0; url=https://evil.example/a>b">')).toEqual({
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
    expect(findMetaRefresh('<base href="https://cdn.example/dir/"><base href="/other/"><meta http-equiv="refresh" content="0;url=next">')).toEqual({
      delaySeconds: 0,
      url: 'next',
      baseHref: 'https://cdn.example/dir/',
    });
    expect(findMetaRefresh('<base target="_top"><base href=https&#58;//cdn.example/><meta http-equiv="refresh" content="0;url=next">')?.baseHref).toBe(
      'https://cdn.example/',
    );
  });

  it('ignores a <base> after the refresh (not in the document yet when the refresh is parsed) or in a template', () => {
    expect(findMetaRefresh('<meta http-equiv="refresh" content="0;url=next"><base href="https://cdn.example/">')).toEqual({ delaySeconds: 0, url: 'next' });
    expect(findMetaRefresh('<template><base href="https://cdn.example/"></template><meta http-equiv="refresh" content="0;url=next">')).toEqual({
      delaySeconds: 0,
      url: 'next',
    });
  });
});
