import { describe, expect, it } from 'vitest';
import { ScanError } from '../../errors.js';
import { httpsUpgradeOf, isHstsPreloaded, loopKey, REDIRECT_STATUSES, RedirectTracker, resolveLocation } from './redirects.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof ScanError ? error.code : 'not-a-scan-error';
  }
  return undefined;
}

describe('redirects', () => {
  it('follows 301, 302, 303, 307, 308 only', () => {
    expect([...REDIRECT_STATUSES].sort()).toEqual([301, 302, 303, 307, 308]);
  });

  it('resolves Location against the page URL', () => {
    const base = new URL('http://a.example/dir/page?q=1');
    expect(resolveLocation('next', base).href).toBe('http://a.example/dir/next');
    expect(resolveLocation('/root', base).href).toBe('http://a.example/root');
    expect(resolveLocation('//b.example/x', base).href).toBe('http://b.example/x');
    expect(resolveLocation(' https://c.example/ ', base).href).toBe('https://c.example/');
  });

  it('bad_redirect for a missing, empty, duplicated or unparsable Location', () => {
    const base = new URL('http://a.example/');
    expect(codeOf(() => resolveLocation(undefined, base))).toBe('bad_redirect');
    expect(codeOf(() => resolveLocation('  ', base))).toBe('bad_redirect');
    expect(codeOf(() => resolveLocation(['/a', '/b'], base))).toBe('bad_redirect');
    expect(codeOf(() => resolveLocation('http://[::1', base))).toBe('bad_redirect');
  });

  it('reads a Location written in raw UTF-8 as UTF-8 (undici hands it over as Latin-1)', () => {
    const base = new URL('http://a.example/');
    const raw = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    expect(resolveLocation(raw('http://bücher.example/login'), base).href).toBe('http://xn--bcher-kva.example/login');
    expect(resolveLocation(raw('/café?q=ü'), base).href).toBe('http://a.example/caf%C3%A9?q=%C3%BC');
    expect(resolveLocation([raw('/café'), raw('/café')], base).href).toBe('http://a.example/caf%C3%A9');
  });

  it('keeps the Latin-1 reading of a Location whose bytes are not UTF-8', () => {
    const base = new URL('http://a.example/');
    expect(resolveLocation('/caf\xe9', base).href).toBe('http://a.example/caf%C3%A9');
    expect(resolveLocation('http://b\xfccher.example/', base).href).toBe('http://xn--bcher-kva.example/');
  });

  it('takes repeated identical Location headers as one (as Chrome does)', () => {
    const base = new URL('http://a.example/');
    expect(resolveLocation(['/landing', '/landing'], base).href).toBe('http://a.example/landing');
    expect(resolveLocation(['/landing', ' /landing '], base).href).toBe('http://a.example/landing');
    expect(codeOf(() => resolveLocation(['', '/landing'], base))).toBe('bad_redirect');
    expect(codeOf(() => resolveLocation(['', ''], base))).toBe('bad_redirect');
  });

  it('loop keys keep the port (two ports are two servers) and ignore default ports', () => {
    expect(loopKey(new URL('http://h/a'))).toBe(loopKey(new URL('http://h:80/a')));
    expect(loopKey(new URL('http://h:8080/a'))).not.toBe(loopKey(new URL('http://h:8081/a')));
    expect(loopKey(new URL('http://H/a/./b#x'))).toBe(loopKey(new URL('http://h/a/b')));
    expect(loopKey(new URL('http://h/a?'))).not.toBe(loopKey(new URL('http://h/a')));
  });

  it('loop keys tell apart requests that only the Safe Browsing canonical form merges', () => {
    expect(loopKey(new URL('http://h//landing'))).not.toBe(loopKey(new URL('http://h/landing')));
    expect(loopKey(new URL('http://h/%7Euser/'))).not.toBe(loopKey(new URL('http://h/~user/')));
    expect(loopKey(new URL('http://h/x%2Fy'))).not.toBe(loopKey(new URL('http://h/x/y')));
    expect(loopKey(new URL('http://h/a#'))).toBe('http://h/a');
  });

  it('the tracker allows exactly maxRedirects and refuses the next', () => {
    const tracker = new RedirectTracker(3);
    tracker.start(new URL('http://h/0'));
    for (let i = 1; i <= 3; i++) tracker.follow(new URL(`http://h/${i}`));
    expect(tracker.count).toBe(3);
    expect(codeOf(() => tracker.follow(new URL('http://h/4')))).toBe('too_many_redirects');
  });

  it('the tracker reports a revisit as redirect_loop', () => {
    const tracker = new RedirectTracker();
    tracker.start(new URL('http://h/a'));
    tracker.follow(new URL('http://h/b'));
    expect(codeOf(() => tracker.follow(new URL('http://H:80/a#frag')))).toBe('redirect_loop');
  });

  it('the tracker calls a revisit a loop only when the client state is unchanged since the last visit', () => {
    const tracker = new RedirectTracker();
    tracker.start(new URL('http://h/check'), 0);
    expect(codeOf(() => tracker.follow(new URL('http://h/check'), 1))).toBeUndefined();
    expect(codeOf(() => tracker.follow(new URL('http://h/other'), 1))).toBeUndefined();
    expect(codeOf(() => tracker.follow(new URL('http://h/check'), 1))).toBe('redirect_loop');
  });

  it('the tracker follows //landing -> /landing without calling it a loop', () => {
    const tracker = new RedirectTracker();
    tracker.start(new URL('http://h//landing'));
    expect(codeOf(() => tracker.follow(new URL('http://h/landing')))).toBeUndefined();
  });

  it('strips only HTTP tab and space from a Location, after reading raw UTF-8 (0xA0 ends UTF-8 à)', () => {
    const base = new URL('http://a.example/go');
    // The UTF-8 bytes of `/kit/voilà` as undici hands them over (one character per byte).
    expect(resolveLocation('/kit/voil\xc3\xa0', base).href).toBe('http://a.example/kit/voil%C3%A0');
    expect(resolveLocation(['/kit/voil\xc3\xa0', ' /kit/voil\xc3\xa0\t'], base).href).toBe('http://a.example/kit/voil%C3%A0');
    expect(resolveLocation('\t/x ', base).href).toBe('http://a.example/x');
  });

  it('tells a revisit that would loop', () => {
    const tracker = new RedirectTracker(1);
    tracker.start(new URL('https://a.example/'), 0);
    expect(tracker.wouldLoop(new URL('https://a.example/#top'), 0)).toBe(true);
    expect(tracker.wouldLoop(new URL('https://a.example/'), 1)).toBe(false);
    expect(tracker.wouldLoop(new URL('http://a.example/'), 0)).toBe(false);
  });

  it('counts a fallback as a redirect, and forgets what the abandoned attempt visited', () => {
    const tracker = new RedirectTracker(3);
    tracker.start(new URL('https://shop.example/'), 0);
    const before = tracker.snapshot();
    tracker.follow(new URL('https://www.example/'), 0);
    // The https attempt failed at www: the fallback to http is a redirect, never a loop.
    tracker.fallBack(new URL('http://shop.example/'), 0, before, true);
    expect(tracker.count).toBe(2);
    // Its http page redirects to where the abandoned attempt went: no loop.
    expect(tracker.wouldLoop(new URL('https://www.example/'), 0)).toBe(false);
    expect(tracker.wouldLoop(new URL('https://shop.example/'), 0)).toBe(true);
    expect(tracker.wouldLoop(new URL('http://shop.example/'), 0)).toBe(true);
    expect(codeOf(() => tracker.follow(new URL('https://www.example/'), 0))).toBeUndefined();
    expect(tracker.count).toBe(3);
    // The count never goes back: one more fallback is one too many.
    expect(codeOf(() => tracker.fallBack(new URL('http://www.example/'), 0, before, true))).toBe('too_many_redirects');
  });
});

describe('https upgrades', () => {
  const upgrade = (href: string) => {
    const result = httpsUpgradeOf(new URL(href));
    return result && `${result.kind} ${result.url.href}`;
  };

  it('knows the HSTS-preloaded suffixes and the hosts under them', () => {
    for (const host of ['app', 'phish-kit.app', 'a.b.dev', 'x.page', 'my.bank', 'x.now.sh', 'phish-kit.app.']) expect(isHstsPreloaded(host), host).toBe(true);
    for (const host of ['application', 'app.com', 'dev.example.com', 'now.sh.evil.com', 'xnow.sh', 'com']) expect(isHstsPreloaded(host), host).toBe(false);
  });

  it('upgrades every http URL of an HSTS-preloaded host, any port, 80 becoming 443', () => {
    expect(upgrade('http://phish-kit.app/login?x=1')).toBe('hsts https://phish-kit.app/login?x=1');
    expect(upgrade('http://phish-kit.app:80/')).toBe('hsts https://phish-kit.app/');
    expect(upgrade('http://phish-kit.app:8080/')).toBe('hsts https://phish-kit.app:8080/');
  });

  it("upgrades as Chrome's HTTPS-Upgrades do: public names and addresses, on any port (kept)", () => {
    expect(upgrade('http://example.com/a')).toBe('upgrade https://example.com/a');
    expect(upgrade('http://example.com:80/a')).toBe('upgrade https://example.com/a');
    expect(upgrade('http://example.com:8443/a')).toBe('upgrade https://example.com:8443/a');
    expect(upgrade('http://example.com:443/')).toBe('upgrade https://example.com/');
    expect(upgrade('http://1.1.1.1:8080/')).toBe('upgrade https://1.1.1.1:8080/');
    expect(upgrade('http://sub.example.co.uk/')).toBe('upgrade https://sub.example.co.uk/');
    expect(upgrade('http://someone.github.io/')).toBe('upgrade https://someone.github.io/');
    expect(upgrade('http://1.1.1.1/')).toBe('upgrade https://1.1.1.1/');
    expect(upgrade('http://[2606:4700:4700::1111]/')).toBe('upgrade https://[2606:4700:4700::1111]/');
  });

  it('leaves the rest to http: non-unique names, private addresses, https', () => {
    for (const href of ['http://intranet/', 'http://intranet:8080/', 'http://10.0.0.1:8443/', 'http://printer.local/', 'http://a.internal/', 'http://a.test/', 'http://localhost/', 'http://a.localhost/', 'http://co.uk/', 'http://10.0.0.1/', 'http://127.0.0.1/', 'http://[::1]/', 'https://example.com/']) {
      expect(upgrade(href), href).toBeUndefined();
    }
  });

  it('maps test ports as the default ones', () => {
    expect(httpsUpgradeOf(new URL('http://example.com:4000/p'), { http: 4000, https: 4001 })?.url.href).toBe('https://example.com:4001/p');
    expect(httpsUpgradeOf(new URL('http://example.com:4002/p'), { http: 4000, https: 4001 })?.url.href).toBe('https://example.com:4002/p');
    expect(httpsUpgradeOf(new URL('http://kit.app:4000/p'), { http: 4000, https: 4001 })?.url.href).toBe('https://kit.app:4001/p');
  });
});

