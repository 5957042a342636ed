import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { compileList, ListMatcher } from '../../src/lists/list-matcher.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { html, lookupAnswering, redirect, startServer, unfurlOptionsFor, type TestServer } from './unfurl-servers.js';

/**
 * Each hop is matched in the canonical form of the URL fetched, never by canonicalising its
 * recorded canonical form again: a `\` decoded from `%5C` stays in a canonical path, and a second
 * pass reads it as `/` (the one input canonicalisation is not a fixed point for), which would
 * match the hop under another path (`/x%5C..%5C..%5Csafe/` is not under `/safe/`).
 */

const lists = (block: string[], allow: string[]) =>
  new ListMatcher([
    compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, block.map((entry) => canonicalEntry(entry))),
    compileList({ name: 'allow-x', version: '1', role: 'allow', action: 'block' }, allow.map((entry) => canonicalEntry(entry))),
  ]);

describe('link hops are matched in the canonical form of the URL reached', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/r?')) return redirect(res, 302, decodeURIComponent(path.slice(3)));
      return html(res, '<html>page</html>');
    });
  });

  afterAll(async () => {
    await server.close();
  });

  const preparer = () => new LinkPreparer({ unfurlOptions: unfurlOptionsFor(server, lookupAnswering(['127.0.0.1']).lookup) });
  const dest = () => `http://evil.test:${server.port}/x%5C..%5C..%5Csafe/phish`;

  it.each([
    ['the link itself', () => dest()],
    ['a redirect to it', () => `http://clean.test:${server.port}/r?${encodeURIComponent(dest())}`],
  ])('%s: an escaped-backslash path is not matched under the directory a second canonicalisation makes of it', async (_name, link) => {
    const prepared = await preparer().prepare(link());
    expect(prepared.errors).toBeUndefined();
    expect(prepared.subject.unfurl!.chain.at(-1)!.status).toBe(200);
    const canonicals = prepared.subject.targets.map((t) => t.canonical.canonical);
    expect(canonicals).toContain('http://evil.test/x\\..\\..\\safe/phish');
    expect(canonicals).not.toContain('http://evil.test/safe/phish');
    const result = lists(['evil.test'], ['evil.test/safe/']).matchTargets(prepared.subject.targets);
    expect(result.allowed).toEqual([]);
    expect(result.matches).toEqual([expect.objectContaining({ entry: 'evil.test' })]);
  });

  it('still allows a hop that really is under the allowlisted directory', async () => {
    const link = `http://clean.test:${server.port}/r?${encodeURIComponent(`http://evil.test:${server.port}/safe/page`)}`;
    const prepared = await preparer().prepare(link);
    const result = lists(['evil.test'], ['evil.test/safe/']).matchTargets(prepared.subject.targets);
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual([expect.stringMatching(/^http:\/\/clean\.test\/r\?/), 'http://evil.test/safe/page']);
    expect(result.matches).toEqual([]);
    expect(result.allowed).toEqual([expect.objectContaining({ entry: 'evil.test/safe/' })]);
  });
});
