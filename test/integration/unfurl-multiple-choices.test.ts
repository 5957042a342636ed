/**
 * 300 Multiple Choices with a Location: Firefox follows the Location (Gecko's IsRedirectStatus
 * includes 300), Chromium and WebKit show the page (Fetch). The chain followed neither: a 300
 * whose Location led Firefox users to a phishing page was judged on the harmless choice page.
 */
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { unfurl } from '../../src/links/unfurl.js';
import { html, notFound, serveDuringTests } from './unfurl-servers.js';

function multipleChoices(res: ServerResponse, location: string | string[], body = '<title>choose</title>'): void {
  res.setHeader('location', location);
  res.writeHead(300, { 'content-type': 'text/html', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

const served = serveDuringTests((req, res) => {
  switch (req.url) {
    case '/choices':
      return multipleChoices(res, '/firefox-landing');
    case '/choices-with-refresh':
      return multipleChoices(res, '/firefox-landing', '<meta http-equiv="refresh" content="0; url=/chromium-landing">');
    case '/choices-refresh-same':
      return multipleChoices(res, '/landing', '<meta http-equiv="refresh" content="0; url=/landing">');
    case '/choices-to-itself':
      return multipleChoices(res, '/choices-to-itself');
    case '/choices-to-javascript':
      return multipleChoices(res, 'javascript:alert(1)');
    case '/choices-several':
      return multipleChoices(res, ['/a', '/b']);
    case '/firefox-landing':
    case '/chromium-landing':
    case '/landing':
      return html(res, `<title>${req.url}</title>`);
    default:
      return notFound(res);
  }
});

describe('unfurl: 300 Multiple Choices', () => {
  it("follows a 300's Location as Firefox does when the page has no refresh, with a warning", async () => {
    const result = await unfurl(`${served.server.origin}/choices`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => [new URL(hop.url).pathname, hop.status])).toEqual([
      ['/choices', 300],
      ['/firefox-landing', 200],
    ]);
    expect(result.chain[0]!.redirect).toEqual({ kind: 'http', location: `${served.server.origin}/firefox-landing` });
    expect(result.warnings.join('\n')).toMatch(/300 Multiple Choices at .*\/choices: followed its Location .* as Firefox does/);
  });

  it("follows the page's refresh as Chromium does, Firefox's Location being the alternate", async () => {
    const result = await unfurl(`${served.server.origin}/choices-with-refresh`, served.options);
    expect(result.error).toBeUndefined();
    expect(result.chain.map((hop) => new URL(hop.url).pathname)).toEqual(['/choices-with-refresh', '/chromium-landing']);
    expect(result.chain[0]!.redirect).toEqual({
      kind: 'meta-refresh',
      location: `${served.server.origin}/chromium-landing`,
      delaySeconds: 0,
      alternate: `${served.server.origin}/firefox-landing`,
    });
    expect(result.warnings.join('\n')).toMatch(/sends browsers to different pages: Chromium and WebKit by its refresh .* Firefox by its Location/);
  });

  it('needs no alternate when the refresh and the Location agree', async () => {
    const result = await unfurl(`${served.server.origin}/choices-refresh-same`, served.options);
    expect(result.chain.map((hop) => new URL(hop.url).pathname)).toEqual(['/choices-refresh-same', '/landing']);
    expect(result.chain[0]!.redirect?.alternate).toBeUndefined();
  });

  it('ends at the page when its Location is unusable: itself, not http(s), or several', async () => {
    for (const path of ['/choices-to-itself', '/choices-to-javascript', '/choices-several']) {
      const result = await unfurl(`${served.server.origin}${path}`, served.options);
      expect(result.error, path).toBeUndefined();
      expect(result.chain.map((hop) => [new URL(hop.url).pathname, hop.status]), path).toEqual([[path, 300]]);
      expect(result.chain[0]!.redirect, path).toBeUndefined();
    }
  });

  it('follows the Location with meta refresh off', async () => {
    const result = await unfurl(`${served.server.origin}/choices-with-refresh`, { ...served.options, followMetaRefresh: false });
    expect(result.chain.map((hop) => new URL(hop.url).pathname)).toEqual(['/choices-with-refresh', '/firefox-landing']);
  });
});
