import { describe, expect, it } from 'vitest';
import { serveDuringTests, visitServer } from './unfurl-servers.js';

/**
 * Redirect chains a browser follows to a page the scanner must reach: meta refreshes in foreign
 * content and behind parser decoys, in XHTML (behind a doctype's internal subset too), in sloppy or
 * fostered markup, behind an unknown Content-Type, and a Location whose raw UTF-8 ends in the byte 0xA0.
 */

const refresh = (delay: number, url: string, close = '') => `<meta http-equiv="refresh" content="${delay};url=${url}"${close}>`;
const xhtml = (head: string) => `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>${head}</head><body>hi</body></html>`;
const doc = `<!DOCTYPE html><html><head>${refresh(0, '/phish/login')}</head></html>`;

const pages: Record<string, [string, string]> = {
  '/svg-style': ['text/html', `<body><svg><style>${refresh(0, '/phish/login')}</style></svg>`],
  '/svg-title': ['text/html', `<body><svg><title>${refresh(0, '/phish/login')}</title></svg>`],
  '/math-style': ['text/html', `<body><math><style>${refresh(0, '/phish/login')}</style></math>`],
  '/svg-cdata': ['text/html', `<body><svg><![CDATA[ > ${refresh(0, '/decoy')} ]]></svg>${refresh(1, '/phish/login')}`],
  '/script-escape': ['text/html', `<head><script><!--<script></script>${refresh(0, '/decoy')}</script>${refresh(1, '/phish/login')}`],
  '/xhtml-noscript': ['application/xhtml+xml', xhtml(`<noscript>${refresh(0, '/phish/login', '/')}</noscript>`)],
  '/xhtml-style': ['application/xhtml+xml', xhtml(`<style>${refresh(0, '/phish/login', '/')}</style>`)],
  '/xhtml-cdata': ['application/xhtml+xml', xhtml(`<script><![CDATA[ > ${refresh(0, '/decoy', '/')} ]]></script>${refresh(1, '/phish/login', '/')}`)],
  '/xml': ['application/xml', xhtml(refresh(0, '/phish/login', '/'))],
  // A quote or `]` in a comment of the doctype's internal subset is comment text (expat reads on).
  '/xhtml-doctype-quote': ['application/xhtml+xml', `<!DOCTYPE html [ <!-- it's fine --> ]>${xhtml(refresh(0, '/phish/login', '/')).replace('<?xml version="1.0"?>', '')}`],
  '/xhtml-doctype-bracket': ['application/xhtml+xml', `<!DOCTYPE html [ <!-- ] --> ]>${xhtml(refresh(0, '/phish/login', '/')).replace('<?xml version="1.0"?>', '')}`],
  // Sloppy markup a browser reads in milliseconds: within the parsing budget.
  '/sloppy-font': ['text/html', `${'<p><font face="Arial" size="2">prose</p>'.repeat(1500)}${refresh(0, '/phish/login')}`],
  '/sloppy-divs': ['text/html', `${'<div>'.repeat(150)}${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(1000)}${refresh(0, '/phish/login')}`],
  // Thousands of nodes fostered out of a table: linear in the scan's tree.
  '/foster': ['text/html', `${refresh(0, '/phish/login')}<table>${'x<br>'.repeat(13_100)}`],
  '/unknown-unknown': ['unknown/unknown', doc],
  '/application-unknown': ['application/unknown', doc],
};

const served = serveDuringTests((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/nested') {
    // Thousands of unclosed elements before the refresh: past the parsing budget.
    res.writeHead(200, { 'content-type': 'text/html' });
    return void res.end(`${'<div>'.repeat(13_000)}${refresh(0, '/phish/login')}`);
  }
  if (path === '/go-utf8') {
    // The UTF-8 bytes of /kit/voilà: Node writes a Latin-1 string byte for byte.
    res.writeHead(302, { location: '/kit/voil\xc3\xa0', 'content-length': '0' });
    return void res.end();
  }
  const page = pages[path];
  res.writeHead(200, { 'content-type': page?.[0] ?? 'text/plain' });
  res.end(page?.[1] ?? 'landing');
});

describe('unfurl reaches the page a browser lands on', () => {
  it.each(Object.keys(pages))('%s', async (path) => {
    const { requested } = await visitServer(served.server, path, served.options);
    expect(requested).toEqual([path, '/phish/login']);
  });

  it('a Location in raw UTF-8 ending in the byte 0xA0 (à) is fetched as browsers fetch it', async () => {
    const { result, requested } = await visitServer(served.server, '/go-utf8', served.options);
    expect(requested).toEqual(['/go-utf8', '/kit/voil%C3%A0']);
    expect(result.final?.url).toBe(`${served.server.origin}/kit/voil%C3%A0`);
  });

  it('a page too complex to parse within the budget ends the chain with page_too_complex (reviewed by default), quickly', async () => {
    const started = performance.now();
    const { result, requested } = await visitServer(served.server, '/nested', served.options);
    expect(requested).toEqual(['/nested']);
    expect(result.error).toMatchObject({ code: 'page_too_complex', detail: { url: `${served.server.origin}/nested` } });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
