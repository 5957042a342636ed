import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, canonicalizeParsed, parseLikeBrowser, visitedAsRead, type CanonicalUrl } from './canonicalize.js';

/**
 * canonicalize() takes a fast path for common http(s) URLs. Byte input (the text's UTF-8 bytes)
 * always takes the general path: both must give the same result, or the same error.
 */

function outcome(run: () => CanonicalUrl): unknown {
  try {
    return run();
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

const piece = fc.constantFrom(
  'http://', 'https://', 'HTTP://', 'hTTps://', 'http:/', 'http:///', 'ftp://', 'javascript:',
  'a', 'B', 'evil', 'Example', 'com', '0x7f', '127', '1', '0', '017', '255', '256', '4294967295', '.', '..', '-', '_',
  '/', '//', '/./', '/../', '/.', '/..', '?', '??', '#', '#x', '@', ':', ':80', ':443', ':8080', ':99999', ':0', ':',
  'bücher', 'ПРИМЕР', 'straße', '例え', 'ａ', '．', '。', '\u00ad', 'xn--bcher-kva', '\ud800',
  '%', '%2', '%25', '%2F', '%2f', '%3F', '%23', '%41', '%7E', '%e2%82%ac', '%00', '%20', '%252F', '\\\\', '"', '~', '=', '&', '[', ']', '[::1]', '[2001:db8::1]', '[::ffff:7f00:1]', '[1:2:3:4:5:6:7:8:9]', '[fe80::1%25eth0]', ' ', '\\t',
);
const urlish = fc.array(piece, { minLength: 1, maxLength: 14 }).map((parts) => parts.join(''));
const structured = fc
  .tuple(
    fc.constantFrom('http://', 'https://', 'HTTPS://'),
    fc.array(fc.constantFrom('a', 'www', 'Evil', '0', '1', '0x7f', '255', 'x_y', 'b-c', 'bücher', 'MÜNCHEN', '１２７', 'ｅｘ', 'a。b', 'xn--', '\u200d', 'é'), { minLength: 1, maxLength: 5 }),
    fc.constantFrom('', ':80', ':443', ':8080', ':65536'),
    fc.array(piece, { maxLength: 8 }),
  )
  .map(([scheme, labels, port, rest]) => `${scheme}${labels.join('.')}${port}/${rest.join('')}`);

describe('canonicalize fast path', () => {
  it('equals the general path', () => {
    fc.assert(
      fc.property(fc.oneof(urlish, structured), (text) => {
        const fast = outcome(() => canonicalize(text));
        // Byte input is read as UTF-8 bytes; its `input` field is their Latin-1 reading.
        const general = outcome(() => canonicalize(Buffer.from(text, 'utf8')));
        if (typeof general === 'object' && general !== null && 'input' in general) (general as CanonicalUrl).input = text;
        expect(fast).toEqual(general);
      }),
      { numRuns: 20_000, seed: 424242 },
    );
  });

  it.each([
    'http://Evil.Example:80/a/./b/../c?x=%41#f',
    'https://0x7f.1:443/%2e%2E/x',
    'http://a.b.c/%25252F/?q=%23',
    'https://x.example/a//b/?',
    'http://host:65536/',
    'http://BÜCHER.de/x',
    'http://ａｂｃ.com/',
    'http://１２７.０.０.１/',
    'http://[::FFFF:1.2.3.4]:80/x',
    'https://[2001:DB8:0:0::1]/%41%2541',
    'http://[1::2::3]/',
    'http://[::1]:99999/',
  ])('%s', (text) => {
    const general = outcome(() => canonicalize(Buffer.from(text, 'utf8')));
    if (typeof general === 'object' && general !== null && 'input' in general) (general as CanonicalUrl).input = text;
    expect(outcome(() => canonicalize(text))).toEqual(general);
  });

  // The link preparer skips the visited form then: it must add nothing (no URL, or the same one).
  it('reads the URL a browser visits whenever visitedAsRead says so', () => {
    let common = 0;
    fc.assert(
      fc.property(fc.oneof(urlish, structured), (text) => {
        if (!visitedAsRead(text)) return;
        const read = outcome(() => canonicalize(text));
        if ('error' in (read as object)) return; // nothing is matched nor visited then
        const parsed = parseLikeBrowser(text, (read as CanonicalUrl).scheme);
        if (parsed === null) return; // a browser refuses it: there is no visited form either
        const visited = outcome(() => canonicalizeParsed(parsed));
        if ('error' in (visited as object)) return;
        common++;
        expect((visited as CanonicalUrl).canonical).toBe((read as CanonicalUrl).canonical);
        expect((visited as CanonicalUrl).hadUserinfo).toBe(false);
      }),
      { numRuns: 20_000, seed: 424243 },
    );
    expect(common).toBeGreaterThan(1_000); // the generators do reach the common form
  });
});
