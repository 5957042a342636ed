import { describe, expect, it } from 'vitest';
import { intentWebPages, intentWebUrls, MAX_INTENT_WEB_URLS, unwrapBrowserLink } from './browser-links.js';

describe('unwrapBrowserLink', () => {
  it.each([
    ['microsoft-edge:https://evil.example/login', 'https://evil.example/login'],
    ['Microsoft-Edge:http://evil.example/a?b=1', 'http://evil.example/a?b=1'],
    ['microsoft-edge: https://evil.example/', 'https://evil.example/'],
    ['x-safari-https://evil.example/login', 'https://evil.example/login'],
    ['x-safari-http://evil.example/', 'http://evil.example/'],
    ['googlechromes://evil.example/login', 'https://evil.example/login'],
    ['googlechrome://evil.example/', 'http://evil.example/'],
    ['\x01microsoft-edge:https://evil.example/\n', 'https://evil.example/'],
  ])('%s opens %s', (link, opened) => {
    expect(unwrapBrowserLink(link)).toBe(opened);
  });

  it.each([['https://evil.example/'], ['microsoft-edge:javascript:alert(1)'], ['microsoft-edge:'], ['microsoft-edge:evil.example'], ['intent://go#Intent;end'], ['ftp://x.example/'], ['evil.example:80/x']])(
    '%s is no browser wrapper around a web URL',
    (link) => {
      expect(unwrapBrowserLink(link)).toBeUndefined();
    },
  );
});

describe('intentWebUrls', () => {
  it.each([
    ['intent://go#Intent;scheme=noapp;S.browser_fallback_url=https%3A%2F%2Fevil.example%2Flogin;end', ['https://evil.example/login']],
    ['INTENT://go#Intent;S.browser_fallback_url=http%3A%2F%2Fevil.example%2F%D0%B6;package=com.x;end', ['http://evil.example/%D0%B6']],
    ['intent://evil.example/login?a=1#Intent;scheme=https;package=com.android.chrome;end', ['https://evil.example/login?a=1']],
    // Android's fallback first (the page Chrome shows when no app takes the intent), then the data URL.
    ['intent://evil.example/a#Intent;scheme=http;S.browser_fallback_url=https%3A%2F%2Fother.example%2F;end', ['https://other.example/', 'http://evil.example/a']],
    // Chrome follows only http(s) fallbacks; a non-web data URL opens an app, not a page.
    ['intent://go#Intent;scheme=market;S.browser_fallback_url=javascript%3Aalert(1);end', []],
    ['intent://go#Intent;scheme=https;end', ['https://go/']],
    ['intent://go/', []],
    ['https://evil.example/#Intent;S.browser_fallback_url=https%3A%2F%2Fx.example%2F;end', []],
  ])('%s sends Chrome to %j', (link, urls) => {
    expect(intentWebUrls(link)).toEqual(urls);
  });

  const evil = 'https%3A%2F%2Fevil.test%2Flogin';
  const clean = 'https%3A%2F%2Fclean.test%2F';

  it.each([
    // Android checks the `S.` raw, then Uri.decodes the key: Chrome reads these as browser_fallback_url.
    [`intent://go#Intent;scheme=noapp;S.browser_fallback%5Furl=${evil};end`],
    [`intent://go#Intent;scheme=noapp;S.%62rowser_fallback_url=${evil};end`],
    [`intent://go#Intent;scheme=noapp;S.%62%72owser%5ffallback%5Furl=${evil};end`],
  ])('%s: a percent-encoded key is the fallback Chrome reads', (link) => {
    expect(intentWebUrls(link)).toEqual(['https://evil.test/login']);
  });

  it.each([
    // Android stops at any pair starting with `end`: the fallback before it is the one Chrome reads.
    [`intent://go#Intent;scheme=noapp;S.browser_fallback_url=${evil};endx;S.browser_fallback_url=${clean};end`],
    [`intent://go#Intent;scheme=noapp;S.browser_fallback_url=${evil};end=1;S.browser_fallback_url=${clean};end`],
    // After `SEL;`, extras belong to the selector intent; the base intent keeps the one before.
    [`intent://go#Intent;scheme=noapp;S.browser_fallback_url=${evil};SEL;S.browser_fallback_url=${clean};end`],
  ])('%s: a decoy Android never reads comes after the fallback Chrome goes to', (link) => {
    expect(intentWebUrls(link)).toEqual(['https://evil.test/login', 'https://clean.test/']);
  });

  it('takes the last fallback of the base intent (Android overwrites an extra), then the others', () => {
    expect(intentWebUrls(`intent://go#Intent;S.browser_fallback_url=${clean};S.browser_fallback_url=${evil};end`)).toEqual(['https://evil.test/login', 'https://clean.test/']);
  });

  it('reads the data URL from the base intent only: a scheme after SEL is the selector\'s', () => {
    expect(intentWebUrls(`intent://evil.test/a#Intent;scheme=https;SEL;scheme=noapp;end`)).toEqual(['https://evil.test/a']);
    expect(intentWebUrls(`intent://evil.test/a#Intent;SEL;scheme=https;end`)).toEqual([]);
    expect(intentWebUrls(`intent://evil.test/a#Intent;scheme=%68ttps;end`)).toEqual(['https://evil.test/a']);
  });

  it('finds a fallback after `end` or a stray `#`, and ignores keys Chrome reads as other extras', () => {
    expect(intentWebUrls(`intent://go#Intent;end;S.browser_fallback_url=${evil}`)).toEqual(['https://evil.test/login']);
    expect(intentWebUrls(`intent://go#x#S.browser_fallback_url=${evil};end`)).toEqual(['https://evil.test/login']);
    expect(intentWebUrls(`intent://go#Intent;S.other_url=${evil};S.browser_fallback_urlx=${evil};end`)).toEqual([]);
  });

  it(`takes at most ${MAX_INTENT_WEB_URLS} web URLs, Android's fallback and the data URL first`, () => {
    const decoys = Array.from({ length: 1000 }, (_, n) => `S.browser_fallback_url=https%3A%2F%2Fd${n}.test%2F;`).join('');
    const urls = intentWebUrls(`intent://data.test/#Intent;scheme=https;${decoys}S.browser_fallback_url=${evil};end`);
    expect(urls).toEqual(['https://evil.test/login', 'https://data.test/', 'https://d0.test/', 'https://d1.test/']);
  });

  it('says how many of the web URLs are the pages Chrome itself may open (Android\'s fallback, the data URL), before the decoys', () => {
    const decoy = 'https%3A%2F%2Fdecoy.test%2F';
    expect(intentWebPages(`intent://data.test/#Intent;scheme=https;S.browser_fallback_url=${evil};end;S.browser_fallback_url=${decoy}`)).toEqual({ urls: ['https://evil.test/login', 'https://data.test/', 'https://decoy.test/'], primary: 2 });
    expect(intentWebPages(`intent://go#Intent;scheme=noapp;S.browser_fallback_url=${evil};end;S.browser_fallback_url=${decoy}`)).toEqual({ urls: ['https://evil.test/login', 'https://decoy.test/'], primary: 1 });
    expect(intentWebPages(`intent://go#Intent;scheme=noapp;SEL;S.browser_fallback_url=${decoy};end`)).toEqual({ urls: ['https://decoy.test/'], primary: 0 });
    // The same page as fallback and data URL is one page.
    expect(intentWebPages(`intent://evil.test/login#Intent;scheme=https;S.browser_fallback_url=${evil};end`)).toEqual({ urls: ['https://evil.test/login'], primary: 1 });
    expect(intentWebPages('https://evil.test/#Intent;end')).toEqual({ urls: [], primary: 0 });
  });

  it('puts the fallback Chrome goes to before the data URL, whatever their order in the link', () => {
    expect(intentWebUrls(`intent://data.test/hop/0#Intent;scheme=http;S.browser_fallback_url=${evil};end`)).toEqual(['https://evil.test/login', 'http://data.test/hop/0']);
    expect(intentWebUrls(`intent://data.test/#Intent;S.browser_fallback_url=${evil};scheme=https;end`)).toEqual(['https://evil.test/login', 'https://data.test/']);
  });

  it.each([
    ['intent:http://evil.test/login#Intent;end', ['http://evil.test/login']],
    ['intent:HTTPS://evil.example/a#Intent;package=com.x;end', ['https://evil.example/a']],
    ['INTENT:https://evil.example/a?b=1#Intent;end', ['https://evil.example/a?b=1']],
    [`intent:https://data.test/#Intent;S.browser_fallback_url=${evil};end`, ['https://evil.test/login', 'https://data.test/']],
    // With a scheme, Android prefixes it: `noapp:http://...` is no web URL, `https:http://x/` is.
    ['intent:http://evil.test/login#Intent;scheme=noapp;end', []],
    // No scheme and no web URL: `//evil.test/login` names none.
    ['intent://evil.test/login#Intent;end', []],
    ['intent:mailto:a@evil.test#Intent;end', []],
  ])('%s: without a scheme pair, the data after `intent:` is the data URL as it is (AOSP parseUriInternal): %j', (link, urls) => {
    expect(intentWebUrls(link)).toEqual(urls);
  });

  it('decodes as Android does: invalid escapes are U+FFFD, `+` kept', () => {
    expect(intentWebUrls('intent://go#Intent;S.browser_fallback_url=https%3A%2F%2Fevil.test%2Fa+b%zz%4;end')).toEqual(['https://evil.test/a+b%EF%BF%BDz%EF%BF%BD']);
  });
});
