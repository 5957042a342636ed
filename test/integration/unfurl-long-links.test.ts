import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { compileList, ListMatcher } from '../../src/lists/list-matcher.js';
import { maxHrefLength, unfurl } from '../../src/links/unfurl.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { html, redirect, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * The unfurler's URL limit counts the link's characters, as a job's does: every link a job accepts
 * is fetched, however long its percent-encoded href (`ж` is `%D0%B6`). Redirect targets (hrefs
 * already) may be as long as such a link's href; the link preparer matches the hops over the
 * character limit cut to host and directories, never as exact pages.
 */

const blocklist = (...entries: string[]) =>
  new ListMatcher([compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, entries.map((entry) => canonicalEntry(entry)))]);

describe('unfurling links longer in their href than in characters', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/r?')) return redirect(res, 302, '/landing/');
      if (path === '/to-long') return redirect(res, 302, `/long/dir/${'a'.repeat(300)}`);
      if (path.startsWith('/page/dir/%')) return redirect(res, 302, '/page/dir/');
      if (path === '/to-too-long') return redirect(res, 302, `/huge/dir/${'a'.repeat(1000)}`);
      if (path === '/to-5000') return redirect(res, 302, `/five/dir/${'b'.repeat(5000)}`);
      if (path.startsWith('/five/dir/b')) return redirect(res, 302, `/five/dir/${'c'.repeat(5000)}/`);
      return html(res, '<html>landing</html>');
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('fetches a link within the character limit whose href is 6 times longer (no url_too_long)', async () => {
    const link = `${server.origin}/${'ж'.repeat(2000)}`;
    expect(link.length).toBeLessThan(8192);
    expect(new URL(link).href.length).toBeGreaterThan(8192);
    const result = await unfurl(link, unfurlOptionsFor(server));
    expect(result.error).toBeUndefined();
    expect(result.chain).toEqual([expect.objectContaining({ status: 200, url: new URL(link).href })]);
  });

  it('follows a redirector with 1400 non-ASCII characters in its query to its blocklisted destination', async () => {
    const link = `${server.origin}/r?q=${'ж'.repeat(1400)}`;
    const prepared = await new LinkPreparer({ unfurlOptions: unfurlOptionsFor(server) }).prepare(link);
    expect(prepared.errors).toBeUndefined();
    expect(prepared.subject.unfurl!.chain.map((hop) => hop.status)).toEqual([302, 200]);
    expect(blocklist('127.0.0.1/landing/').matchTargets(prepared.subject.targets).matches).toEqual([
      expect.objectContaining({ kind: 'expression_match', url: 'http://127.0.0.1/landing/' }),
    ]);
  });

  it('follows a redirect target longer than the limit, and matches it cut (never as an exact page)', async () => {
    const options = { ...unfurlOptionsFor(server), maxUrlLength: 100 };
    const prepared = await new LinkPreparer({ maxUrlLength: 100, unfurlOptions: options }).prepare(`${server.origin}/to-long`);
    expect(prepared.errors).toBeUndefined();
    expect(prepared.subject.unfurl!.chain.map((hop) => hop.status)).toEqual([302, 200]);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([
      ['http://127.0.0.1/to-long', undefined],
      ['http://127.0.0.1/long/dir/', true],
    ]);
    expect(blocklist('http://127.0.0.1/long/dir/').matchTargets(prepared.subject.targets).matches).toEqual([]);
    expect(blocklist('127.0.0.1/long/').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'expression_match', hop: 1 })]);
  });

  it('a cut form that the chain then reaches whole is an exact page again', async () => {
    const options = { ...unfurlOptionsFor(server), maxUrlLength: 100 };
    const link = `${server.origin}/page/dir/${'ж'.repeat(40)}`; // 76 characters, href over 100
    const prepared = await new LinkPreparer({ maxUrlLength: 100, unfurlOptions: options }).prepare(link);
    expect(prepared.subject.unfurl!.chain.map((hop) => hop.status)).toEqual([302, 200]);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([
      [expect.stringContaining('/page/dir/%D0%B6'), undefined],
      ['http://127.0.0.1/page/dir/', undefined],
    ]);
    expect(blocklist('http://127.0.0.1/page/dir/').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'url_match', hop: 1 })]);
  });

  it('records the URLs of a chain of long redirect targets cut at 2,048 characters, and matches them whole', async () => {
    const options = { ...unfurlOptionsFor(server), maxUrlLength: 1000 };
    const prepared = await new LinkPreparer({ maxUrlLength: 1000, unfurlOptions: options }).prepare(`${server.origin}/to-5000`);
    expect(prepared.errors).toBeUndefined();
    const chain = prepared.details.chain as Array<{ url: string; status: number }>;
    expect(chain.map((hop) => hop.status)).toEqual([302, 302, 200]);
    expect(chain.map((hop) => hop.url.length)).toEqual([`${server.origin}/to-5000`.length, 2049, 2049]);
    expect(chain[1]!.url).toBe(`${server.origin}/five/dir/${'b'.repeat(2048 - server.origin.length - 10)}…`);
    expect(prepared.details.final).toBe(`http://127.0.0.1/five/dir/${'c'.repeat(2048 - 26)}…`);
    // What is matched is the hop itself: its whole canonical form, cut to host and directories.
    expect(prepared.subject.unfurl!.chain[2]!.url).toHaveLength(server.origin.length + 10 + 5001);
    expect(blocklist('127.0.0.1/five/dir/').matchTargets(prepared.subject.targets).matches).toEqual([expect.objectContaining({ kind: 'expression_match', hop: 1 })]);
  });

  it('ends the chain at a redirect target longer than a link\'s href can be, still matching it cut', async () => {
    expect(maxHrefLength(100)).toBeLessThan(1000);
    const options = { ...unfurlOptionsFor(server), maxUrlLength: 100 };
    const prepared = await new LinkPreparer({ maxUrlLength: 100, unfurlOptions: options }).prepare(`${server.origin}/to-too-long`);
    expect(prepared.errors).toEqual([expect.objectContaining({ code: 'url_too_long' })]);
    expect(server.requests.some((path) => path.startsWith('/huge/'))).toBe(false);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([
      ['http://127.0.0.1/to-too-long', undefined],
      ['http://127.0.0.1/huge/dir/', true],
    ]);
  });
});
