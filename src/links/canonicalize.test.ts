import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize, canonicalPath, DEFAULT_MAX_URL_LENGTH } from './canonicalize.js';
import { unescapeRepeatedly, unescapeRepeatedlyByPasses } from './percent-escapes.js';
import { ScanError, type ErrorCode } from '../errors.js';

/**
 * Every `Canonicalize(...) = ...` example of the Safe Browsing v4 "URLs and Hashing" page
 * (https://developers.google.com/safe-browsing/v4/urls-hashing), in the page's order.
 */
const SAFE_BROWSING_EXAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['http://host/%25%32%35', 'http://host/%25'],
  ['http://host/%25%32%35%25%32%35', 'http://host/%25%25'],
  ['http://host/%2525252525252525', 'http://host/%25'],
  ['http://host/asdf%25%32%35asd', 'http://host/asdf%25asd'],
  ['http://host/%%%25%32%35asd%%', 'http://host/%25%25%25asd%25%25'],
  ['http://www.google.com/', 'http://www.google.com/'],
  [
    'http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/',
    'http://168.188.99.26/.secure/www.ebay.com/',
  ],
  [
    'http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/',
    'http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/',
  ],
  [
    'http://host%23.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B',
    'http://host%23.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+',
  ],
  ['http://3279880203/blah', 'http://195.127.0.11/blah'],
  ['http://www.google.com/blah/..', 'http://www.google.com/'],
  ['www.google.com/', 'http://www.google.com/'],
  ['www.google.com', 'http://www.google.com/'],
  ['http://www.evil.com/blah#frag', 'http://www.evil.com/blah'],
  ['http://www.GOOgle.com/', 'http://www.google.com/'],
  ['http://www.google.com.../', 'http://www.google.com/'],
  ['http://www.google.com/foo\tbar\rbaz\n2', 'http://www.google.com/foobarbaz2'],
  ['http://www.google.com/q?', 'http://www.google.com/q?'],
  ['http://www.google.com/q?r?', 'http://www.google.com/q?r?'],
  ['http://www.google.com/q?r?s', 'http://www.google.com/q?r?s'],
  ['http://evil.com/foo#bar#baz', 'http://evil.com/foo'],
  ['http://evil.com/foo;', 'http://evil.com/foo;'],
  ['http://evil.com/foo?bar;', 'http://evil.com/foo?bar;'],
  // 'http://\x01\x80.com/' is a byte string in the documentation: tested below as bytes.
  ['http://notrailingslash.com', 'http://notrailingslash.com/'],
  ['http://www.gotaport.com:1234/', 'http://www.gotaport.com/'],
  ['  http://www.google.com/  ', 'http://www.google.com/'],
  ['http:// leadingspace.com/', 'http://%20leadingspace.com/'],
  ['http://%20leadingspace.com/', 'http://%20leadingspace.com/'],
  ['%20leadingspace.com/', 'http://%20leadingspace.com/'],
  ['https://www.securesite.com/', 'https://www.securesite.com/'],
  ['http://host.com/ab%23cd', 'http://host.com/ab%23cd'],
  ['http://host.com//twoslashes?more//slashes', 'http://host.com/twoslashes?more//slashes'],
];

function errorCode(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ScanError) return error.code;
    throw error;
  }
  return undefined;
}

describe('canonicalize: Safe Browsing documentation examples', () => {
  it.each(SAFE_BROWSING_EXAMPLES)('Canonicalize(%j) = %j', (input, expected) => {
    expect(canonicalize(input).canonical).toBe(expected);
  });

  it('Canonicalize("http://\\x01\\x80.com/") = "http://%01%80.com/" (raw bytes, escape mode)', () => {
    const bytes = Buffer.from('http://\x01\x80.com/', 'latin1');
    expect(canonicalize(bytes, { controlCharacters: 'escape' }).canonical).toBe('http://%01%80.com/');
  });

  it('covers all 33 documented examples (32 strings plus the byte example)', () => {
    expect(SAFE_BROWSING_EXAMPLES).toHaveLength(32);
  });
});

describe('canonicalize: structured result', () => {
  it('reports every part', () => {
    expect(canonicalize('HTTPS://User:Pw@WWW.Example.COM:8443/a/./b/../c?x=1#frag')).toEqual({
      input: 'HTTPS://User:Pw@WWW.Example.COM:8443/a/./b/../c?x=1#frag',
      canonical: 'https://www.example.com/a/c?x=1',
      scheme: 'https',
      host: 'www.example.com',
      port: 8443,
      path: '/a/c',
      query: 'x=1',
      hostIsIp: false,
      hadUserinfo: true,
    });
  });

  it('drops the default port and reports no query when there is no "?"', () => {
    const result = canonicalize('http://example.com:80/x');
    expect(result.port).toBeUndefined();
    expect('query' in result).toBe(false);
    expect(canonicalize('http://example.com/q?').query).toBe('');
  });

  it('takes the host after the last @ and flags the userinfo', () => {
    const result = canonicalize('http://good.com@evil.com/login');
    expect(result).toMatchObject({ host: 'evil.com', hadUserinfo: true, canonical: 'http://evil.com/login' });
    expect(canonicalize('http://a@b@evil.com/').host).toBe('evil.com');
    expect(canonicalize('http://evil.com/').hadUserinfo).toBe(false);
  });

  it('reads a raw backslash as a slash for http, as browsers do', () => {
    expect(canonicalize('http://evil.com\\@good.com/').host).toBe('evil.com');
    expect(canonicalize('http://host/a\\b').path).toBe('/a/b');
  });

  it.each([
    ['http://0x7f.1/', 'http://127.0.0.1/'],
    ['http://012.1.2.3/', 'http://10.1.2.3/'],
    ['http://127.1/', 'http://127.0.0.1/'],
    ['http://2130706433/', 'http://127.0.0.1/'],
    ['http://0x7F000001/', 'http://127.0.0.1/'],
    ['http://0000000000001.2.3.4/', 'http://1.2.3.4/'],
    ['http://0x0000000000007f.0.0.1/', 'http://127.0.0.1/'],
    ['http://.127.0.0.1./', 'http://127.0.0.1/'],
    ['http://[2001:0DB8:0000::1]/', 'http://[2001:db8::1]/'],
    ['http://[::ffff:1.2.3.4]/', 'http://1.2.3.4/'],
    ['http://[64:ff9b::1.2.3.4]/', 'http://1.2.3.4/'],
    ['http://[::1]:8080/x', 'http://[::1]/x'],
    // Not IPv4-mapped (::ffff:0:0/96 needs five zero words before ffff): an IPv6 host of its own.
    ['http://[::1:ffff:102:304]/', 'http://[::1:ffff:102:304]/'],
    ['http://[1::ffff:102:304]/', 'http://[1::ffff:102:304]/'],
  ])('IP host %s -> %s', (input, expected) => {
    const result = canonicalize(input);
    expect(result.canonical).toBe(expected);
    expect(result.hostIsIp).toBe(true);
  });

  it('keeps hosts that only look numeric as hostnames', () => {
    expect(canonicalize('http://256.1.1.1/')).toMatchObject({ host: '256.1.1.1', hostIsIp: false });
    expect(canonicalize('http://1.2.3.4.5/')).toMatchObject({ host: '1.2.3.4.5', hostIsIp: false });
  });

  it.each([
    ['http://bücher.de/', 'http://xn--bcher-kva.de/'],
    ['http://BÜCHER.de/', 'http://xn--bcher-kva.de/'],
    ['http://例え.テスト/パス', 'http://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9'],
    ['http://%62%C3%BCcher.de/', 'http://xn--bcher-kva.de/'],
    ['http://１２７.０.０.１/', 'http://127.0.0.1/'],
  ])('IDN host %s -> %s', (input, expected) => {
    expect(canonicalize(input).canonical).toBe(expected);
  });

  it('resolves paths and keeps the query untouched by path rules', () => {
    expect(canonicalize('http://h/a/b/../../../c/./d//e/?p=/../x//y').canonical).toBe('http://h/c/d/e/?p=/../x//y');
    expect(canonicalize('http://h/a/..').path).toBe('/');
    expect(canonicalize('http://h/a/.').path).toBe('/a/');
  });

  it('escapes with uppercase hex and keeps bad escapes literally', () => {
    expect(canonicalize('http://h/%e2%82%ac').path).toBe('/%E2%82%AC');
    expect(canonicalize('http://h/€').path).toBe('/%E2%82%AC');
    expect(canonicalize('http://h/%zz%4').path).toBe('/%25zz%254');
    expect(canonicalize('http://h/%00').path).toBe('/%00');
  });

  it('canonical form is a fixed point', () => {
    for (const [input] of SAFE_BROWSING_EXAMPLES) {
      const once = canonicalize(input).canonical;
      expect(canonicalize(once).canonical).toBe(once);
    }
  });
});

describe('canonicalize: schemes', () => {
  it.each([
    ['javascript:alert(1)', 'javascript'],
    ['JavaScript:alert(document.cookie)', 'javascript'],
    ['java\tscript:alert(1)', 'javascript'],
    ['data:text/html;base64,PHNjcmlwdD4=', 'data'],
    ['mailto:a@b.c', 'mailto'],
    ['file:///etc/passwd', 'file'],
    ['about:blank', 'about'],
    ['blob:https://a.com/uuid', 'blob'],
  ])('%s is recognised without a fetch: unsupported_scheme, scheme %s', (input, scheme) => {
    try {
      canonicalize(input);
      expect.fail('should throw');
    } catch (error) {
      expect(error).toBeInstanceOf(ScanError);
      expect((error as ScanError).code).toBe('unsupported_scheme');
      expect((error as ScanError).detail).toEqual({ scheme });
    }
  });

  it('canonicalises other schemes with an authority and reports them', () => {
    expect(canonicalize('ftp://Files.Example.com:21/pub/')).toMatchObject({ scheme: 'ftp', canonical: 'ftp://files.example.com/pub/' });
    expect(canonicalize('wss://x.example/socket').scheme).toBe('wss');
  });

  it.each([
    ['microsoft-edge:https://Evil.example/login', 'https://evil.example/login'],
    ['x-safari-https://evil.example/a/../login', 'https://evil.example/login'],
    ['googlechromes://evil.example/login', 'https://evil.example/login'],
    ['googlechrome://evil.example:8080/login', 'http://evil.example/login'],
  ])('%s, a browser wrapper, is the web URL it opens: %s', (input, canonical) => {
    expect(canonicalize(input)).toMatchObject({ input, canonical, host: 'evil.example' });
    expect(canonicalize(Buffer.from(input, 'latin1'))).toMatchObject({ input, canonical });
  });

  it('keeps an intent: link as it is (its web URLs are targets of the link preparer)', () => {
    expect(canonicalize('intent://go#Intent;scheme=noapp;S.browser_fallback_url=https%3A%2F%2Fevil.example%2F;end')).toMatchObject({ scheme: 'intent', canonical: 'intent://go/' });
  });

  it('reads host:port without a scheme as a host', () => {
    expect(canonicalize('localhost:8080/x')).toMatchObject({ scheme: 'http', host: 'localhost', port: 8080 });
    expect(canonicalize('//example.com/x').canonical).toBe('http://example.com/x');
    expect(canonicalize('http:example.com').canonical).toBe('http://example.com/');
    // Browsers skip any run of slashes after http: and read the next word as the host.
    expect(canonicalize('http:///path').canonical).toBe('http://path/');
  });
});

describe('canonicalize: ports', () => {
  it.each([
    ['http://evil.example:000000000080/', 'http://evil.example/', undefined],
    ['https://evil.example:000000000443/', 'https://evil.example/', undefined],
    ['http://10.1.2.3:0000000080/x', 'http://10.1.2.3/x', undefined],
    ['evil.example:0000080/x', 'http://evil.example/x', undefined],
    ['http://evil.example:0000000008080/x', 'http://evil.example/x', 8080],
    ['http://evil.example:000000000065535/', 'http://evil.example/', 65535],
    ['http://evil.example:00000/', 'http://evil.example/', 0],
    ['http://[::1]:0000000080/', 'http://[::1]/', undefined],
  ])('%s: leading zeros do not count, as browsers read a port', (input, canonical, port) => {
    const result = canonicalize(input);
    expect(result.canonical).toBe(canonical);
    expect(result.port).toBe(port);
    // What a browser reads in it.
    expect(new URL(input.startsWith('http') ? input : `http://${input}`).port).toBe(port === undefined ? '' : String(port));
  });

  it.each([['http://evil.example:0000065536/'], ['http://evil.example:1000000/'], ['http://evil.example:+80/']])('%s is no port', (input) => {
    expect(() => canonicalize(input)).toThrow(expect.objectContaining({ code: 'invalid_url' }));
  });
});

describe('canonicalize: bad input', () => {
  it.each([
    ['', 'invalid_url'],
    ['   \t\n ', 'invalid_url'],
    ['http://exa\x00mple.com/', 'invalid_url'],
    ['http://example.com/\x7f', 'invalid_url'],
    ['http://example.com:99999/', 'invalid_url'],
    ['http://example.com:12ab/', 'invalid_url'],
    ['http://', 'invalid_host'],
    ['http://?q', 'invalid_host'],
    ['http://.../', 'invalid_host'],
    ['http://user@/', 'invalid_host'],
    ['http://[fe80::1%25eth0]/', 'invalid_host'],
    ['http://[fe80::1%eth0]/', 'invalid_host'],
    ['http://[::1/', 'invalid_host'],
    ['http://[12345::1]/', 'invalid_host'],
    ['http://[::1]x/', 'invalid_host'],
    ['::', 'invalid_host'],
    ['http://a:b:80/', 'invalid_host'],
    ['.[', 'invalid_host'],
    ['http://a%5Cb/', 'invalid_host'],
  ] as const)('%j -> %s', (input, code) => {
    expect(errorCode(() => canonicalize(input))).toBe(code);
  });

  it('refuses a 100 KB URL quickly with url_too_long', () => {
    const huge = `http://example.com/${'a'.repeat(100 * 1024)}`;
    const started = performance.now();
    expect(errorCode(() => canonicalize(huge))).toBe('url_too_long');
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('counts the limit in characters, as a job\'s URL limit does, and honours a configured limit', () => {
    // At the limit in characters (UTF-16 code units, what zod's max counts), over it in UTF-8 bytes.
    const prefix = 'http://example.com/';
    for (const char of ['é', 'ж', '例', '😀']) {
      const url = prefix + char.repeat(Math.floor((DEFAULT_MAX_URL_LENGTH - prefix.length) / char.length));
      expect(url.length).toBeLessThanOrEqual(DEFAULT_MAX_URL_LENGTH);
      expect(Buffer.byteLength(url)).toBeGreaterThan(DEFAULT_MAX_URL_LENGTH);
      expect(canonicalize(url)).toMatchObject({ host: 'example.com', path: `/${encodeURIComponent(char).repeat((url.length - prefix.length) / char.length)}` });
      // Byte input counts bytes.
      expect(errorCode(() => canonicalize(Buffer.from(url, 'utf8')))).toBe('url_too_long');
    }
    const over = `${prefix}${'ж'.repeat(DEFAULT_MAX_URL_LENGTH - prefix.length + 1)}`;
    expect(() => canonicalize(over)).toThrow(expect.objectContaining({ code: 'url_too_long', detail: { length: DEFAULT_MAX_URL_LENGTH + 1, maxLength: DEFAULT_MAX_URL_LENGTH } }));
    expect(canonicalize('http://bücher.de/ж', { maxLength: 18 }).canonical).toBe('http://xn--bcher-kva.de/%D0%B6');
    expect(errorCode(() => canonicalize('http://bücher.de/ж', { maxLength: 17 }))).toBe('url_too_long');
    expect(errorCode(() => canonicalize('http://example.com/abc', { maxLength: 10 }))).toBe('url_too_long');
    expect(canonicalize('http://e.co/', { maxLength: 12 }).canonical).toBe('http://e.co/');
  });

  it('handles a maximal %25 chain in linear time', () => {
    const url = `http://h/%${'25'.repeat((DEFAULT_MAX_URL_LENGTH - 20) / 2)}`;
    const started = performance.now();
    expect(canonicalize(url).path).toBe('/%25');
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe('canonicalize: properties', () => {
  const piece = fc.oneof(
    fc.constantFrom('http://', 'https://', '%', '%25', '%2e', '%2F', '%3F', '%23', '/', '//', '.', '..', '?', '#', '@', ':', '[', ']', '\\', 'a', 'B', '1', '0x7f', ' ', 'é', '例', '\t'),
    fc.string({ maxLength: 3 }),
  );

  it('keeps a non-ASCII host holding a URL delimiter as escaped bytes, a fixed point (no IDN step cuts it at the #)', () => {
    const { canonical, host, hostIsIp } = canonicalize('..1%23例');
    expect({ canonical, host, hostIsIp }).toEqual({ canonical: 'http://1%23%E4%BE%8B/', host: '1%23%E4%BE%8B', hostIsIp: false });
    expect(canonicalize(canonical).canonical).toBe(canonical);
  });

  it('either throws a ScanError or returns printable ASCII that canonicalises to itself', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        let canonical: string;
        try {
          canonical = canonicalize(pieces.join(''), { controlCharacters: 'escape' }).canonical;
        } catch (error) {
          expect(error).toBeInstanceOf(ScanError);
          return;
        }
        expect(canonical).toMatch(/^[\x21-\x7e]+$/);
        // A backslash decoded from %5C is the documented exception to the fixed point.
        if (!canonical.includes('\\')) expect(canonicalize(canonical).canonical).toBe(canonical);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('unescapeRepeatedly', () => {
  it('reaches the same fixed point as repeated full passes (property)', () => {
    const alphabet = fc.constantFrom('%', '2', '5', '3', '7', 'a', 'F', 'g', '0');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }), (chars) => {
        const text = chars.join('');
        expect(unescapeRepeatedly(text)).toBe(unescapeRepeatedlyByPasses(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canonicalPath', () => {
  it.each([
    ['', '/'],
    ['/', '/'],
    ['//', '/'],
    ['/a/b/', '/a/b/'],
    ['/a//b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/../../a', '/a'],
    ['/a/b/..', '/a/'],
  ])('%j -> %j', (input, expected) => {
    expect(canonicalPath(input)).toBe(expected);
  });
});
