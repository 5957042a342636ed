import { describe, expect, it } from 'vitest';
import { intentWebUrls, unwrapBrowserLink } from './browser-links.js';

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
    ['intent://evil.example/a#Intent;scheme=http;S.browser_fallback_url=https%3A%2F%2Fother.example%2F;end', ['http://evil.example/a', 'https://other.example/']],
    // Chrome follows only http(s) fallbacks; a non-web data URL opens an app, not a page.
    ['intent://go#Intent;scheme=market;S.browser_fallback_url=javascript%3Aalert(1);end', []],
    ['intent://go#Intent;scheme=https;end', ['https://go/']],
    ['intent://go/', []],
    ['https://evil.example/#Intent;S.browser_fallback_url=https%3A%2F%2Fx.example%2F;end', []],
  ])('%s sends Chrome to %j', (link, urls) => {
    expect(intentWebUrls(link)).toEqual(urls);
  });
});
