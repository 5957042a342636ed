import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfurl, type UnfurlOptions } from '../../src/links/unfurl.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { html, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * A page with several refreshes, some a browser ignores, over real HTTP: the unfurler must land
 * where browsers land, never on a decoy a browser skips. `/page?b=<html>` serves the HTML given,
 * `&r=` adds a Refresh header.
 */

let server: TestServer;
let options: UnfurlOptions;

beforeAll(async () => {
  server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/page') {
      const refresh = url.searchParams.get('r');
      if (refresh !== null) res.setHeader('refresh', refresh);
      return html(res, url.searchParams.get('b') ?? '');
    }
    return html(res, `landing ${url.pathname}`);
  });
  options = unfurlOptionsFor(server);
});

afterAll(async () => {
  await server.close();
});

const meta = (content: string, equiv = 'refresh') => `<meta http-equiv="${equiv}" content="${content}">`;

async function visit(body: string, refreshHeader?: string) {
  const before = server.requests.length;
  const query = new URLSearchParams({ b: body, ...(refreshHeader !== undefined && { r: refreshHeader }) });
  const result = await unfurl(`${server.origin}/page?${query}`, options);
  const warnings = result.warnings.filter((warning) => !warning.startsWith('PRIVATE-ADDRESS'));
  return { result, warnings, paths: server.requests.slice(before).map((path) => new URL(path, 'http://x').pathname) };
}

describe('unfurl: a meta refresh browsers ignore is ignored', () => {
  it.each(['0url=/decoy', '5abc', '1e3;url=/decoy', '0:url=/decoy', '-1;url=/decoy', 'url=/decoy', ''])(
    'skips content %j (an invalid delay) and follows the valid refresh after it',
    async (decoy) => {
      const { result, paths } = await visit(meta(decoy) + meta('0;url=/real'));
      expect(result.error).toBeUndefined();
      expect(paths).toEqual(['/page', '/real']);
      expect(result.chain[0]!.redirect).toEqual({ kind: 'meta-refresh', location: `${server.origin}/real`, delaySeconds: 0 });
    },
  );

  it.each([' refresh', 'refresh ', '&#9;refresh', 'refresh;'])('skips http-equiv=%j (not trimmed, as in browsers)', async (equiv) => {
    const { result, paths } = await visit(meta('0;url=/decoy', equiv) + meta('0;url=/real'));
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/page', '/real']);
  });

  it('follows the head\'s refresh, not a decoy after a <frameset> (which the parser drops), and warns of nothing', async () => {
    const { result, paths, warnings } = await visit(`<head>${meta('0;url=/real')}</head><frameset><frame src="/x">${meta('0;url=/decoy')}</frameset>`);
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/page', '/real']);
    expect(warnings).toEqual([]);
  });

  it('matches http-equiv ASCII case-insensitively', async () => {
    const { paths } = await visit(meta('0;url=/real', 'REFRESH'));
    expect(paths).toEqual(['/page', '/real']);
  });

  it('ends at a page whose only refresh is invalid, without an error', async () => {
    const { result, paths } = await visit(meta('0url=/decoy'));
    expect(result.error).toBeUndefined();
    expect(result.chain).toHaveLength(1);
    expect(result.chain[0]!.redirect).toBeUndefined();
    expect(paths).toEqual(['/page']);
  });

  it('skips a refresh whose URL does not parse (the standard ignores it) and warns', async () => {
    const { result, paths, warnings } = await visit(meta('0;url=http://[::1') + meta('0;url=/real'));
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/page', '/real']);
    expect(warnings).toEqual([expect.stringContaining('ignored a meta-refresh with an unusable URL')]);
  });
});

describe('unfurl: the refresh browsers act on among several', () => {
  it('stays on a page that only reloads itself (no URL, an empty URL, its own URL)', async () => {
    for (const content of ['30', '0;url=', '0 ,']) {
      const { result, paths } = await visit(meta(content));
      expect(result.error).toBeUndefined();
      expect(result.chain[0]!.redirect).toBeUndefined();
      expect(paths).toEqual(['/page']);
    }
  });

  it('follows the one every browser follows: first valid, and soonest', async () => {
    const { result, paths, warnings } = await visit(meta('1;url=/first') + meta('5;url=/second'));
    expect(result.chain[0]!.redirect).toMatchObject({ location: `${server.origin}/first`, delaySeconds: 1 });
    expect(paths).toEqual(['/page', '/first']);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['a plain reload', '30'],
    ['an empty URL', '0;url='],
  ])('follows a later, sooner refresh after %s: Firefox reloads the page (in the chain), Chromium and WebKit go on', async (_name, first) => {
    // The HTML standard (Firefox) acts on the first valid refresh only: a reload. Chromium and
    // WebKit act on the soonest (the later on a tie): /next. The chain holds both outcomes.
    const { result, paths, warnings } = await visit(meta(first) + meta('0;url=/next'));
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/page', '/next']);
    expect(result.chain[0]!.redirect).toEqual({ kind: 'meta-refresh', location: `${server.origin}/next`, delaySeconds: 0 });
    expect(warnings).toEqual([]);
  });

  it('follows the first refresh when the sooner one only reloads', async () => {
    const { paths } = await visit(meta('5;url=/first') + meta('0'));
    expect(paths).toEqual(['/page', '/first']);
  });

  it.each([
    ['a tie (the later wins)', meta('0;url=/first') + meta('0;url=/second')],
    ['a shorter delay', meta('5;url=/first') + meta('1;url=/second')],
    ['a shorter fractional delay', meta('1;url=/first') + meta('0.5;url=/second')],
  ])('on %s, follows Chromium and WebKit (most browsers) and warns where Firefox goes', async (_name, body) => {
    const { result, paths, warnings } = await visit(body);
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/page', '/second']);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`Chromium and WebKit to ${server.origin}/second \\(followed\\), Firefox to ${server.origin}/first`))]);
    expect(result.chain[0]!.redirect?.alternate).toBe(`${server.origin}/first`);
  });

  it("matches where Firefox goes too, without fetching it: a link's targets include it", async () => {
    const query = new URLSearchParams({ b: meta('0;url=/firefox-lands-here') + meta('0;url=/chromium-lands-here') });
    const prepared = await new LinkPreparer({ unfurlOptions: options }).prepare(`${server.origin}/page?${query}`);
    const paths = prepared.subject.targets.map((target) => target.canonical.path);
    expect(paths.slice(-2)).toEqual(['/chromium-lands-here', '/firefox-lands-here']);
    expect(server.requests.some((path) => path.startsWith('/firefox-lands-here'))).toBe(false);
  });

  it.each([
    ['wrapped in Unicode spaces (Chromium strips them, the URL parser does not)', '0;url=\u3000/second', '/%E3%80%80/second'],
    // Chromium's URL is /first'/../second: /second.
    ['quoted up to its last quote (Chromium) or its first (the standard)', "0;url='/first'/../second'", '/first'],
  ])('follows a URL %s where Chromium and WebKit go, and warns', async (_name, content, firefox) => {
    const { result, paths, warnings } = await visit(meta(content));
    expect(result.error).toBeUndefined();
    expect(paths).toEqual(['/page', '/second']);
    expect(result.chain[0]!.redirect?.location).toBe(`${server.origin}/second`);
    expect(warnings).toEqual([expect.stringContaining(`Firefox to ${server.origin}${firefox}`)]);
  });

  it('counts the Refresh header first, and the meta refreshes after it', async () => {
    // Header reload, meta refresh sooner: Chromium and WebKit go on.
    expect((await visit(meta('0;url=/from-meta'), '30')).paths).toEqual(['/page', '/from-meta']);
    // Header sooner than the meta: every browser follows the header.
    const header = await visit(meta('5;url=/from-meta'), '0;url=/from-header');
    expect(header.paths).toEqual(['/page', '/from-header']);
    expect(header.result.chain[0]!.redirect?.kind).toBe('refresh-header');
    expect(header.warnings).toEqual([]);
  });
});
