import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEntry } from '../../src/lists/list-entry.js';
import { compileList, ListMatcher } from '../../src/lists/list-matcher.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import { html, redirect, startServer, type TestServer } from './unfurl-servers.js';

/** Every host a link reaches is matched, whatever its text hides and however long the URL. */

let server: TestServer;
let preparer: LinkPreparer;

const blocklist = (...entries: string[]) =>
  new ListMatcher([compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, entries.map((entry) => canonicalEntry(entry)))]);

beforeAll(async () => {
  server = await startServer((req, res) => {
    switch (req.url) {
      case '/long-query':
        return redirect(res, 302, `https://evil.example/login?${'a'.repeat(9000)}`);
      case '/long-path':
        return redirect(res, 302, `https://evil.example/${'a'.repeat(9000)}`);
      default:
        return html(res, '<html>phish</html>');
    }
  });
  preparer = new LinkPreparer({ unfurlOptions: { allowPrivateAddressesFor: [`127.0.0.1:${server.port}`], hopTimeoutMs: 2_000 } });
});

afterAll(async () => {
  await server.close();
});

describe('link preparer: the host actually fetched is matched', () => {
  it.each(['%2F', '%3F'])('an escaped %s before @ hides no host: the 127.0.0.1 fetched is matched, not google.com', async (escape) => {
    const prepared = await preparer.prepare(`http://google.com${escape}@127.0.0.1:${server.port}/login`);
    expect(server.requests.at(-1)).toBe('/login');
    const hop = prepared.subject.unfurl!.chain[0]!;
    expect(hop).toMatchObject({ status: 200, canonical: 'http://127.0.0.1/login', address: '127.0.0.1' });
    expect(prepared.subject.targets[0]!.canonical.host).toBe('google.com');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toContain('http://127.0.0.1/login');
    expect(blocklist('127.0.0.1').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
  });
});

describe('link preparer: a redirect target longer than the URL limit', () => {
  it.each([
    ['/long-query', 'https://evil.example/login'],
    ['/long-path', 'https://evil.example/'],
  ])('%s is still matched on its host, cut to %s, and the error stays', async (path, cut) => {
    // A limit of 900 characters takes hrefs up to 9 x 900 + 64 = 8164: the 9000-character target is over it.
    const limited = new LinkPreparer({ maxUrlLength: 900, unfurlOptions: { allowPrivateAddressesFor: [`127.0.0.1:${server.port}`], hopTimeoutMs: 2_000 } });
    const prepared = await limited.prepare(`${server.origin}${path}`);
    expect(prepared.errors).toEqual([expect.objectContaining({ code: 'url_too_long' })]);
    expect(prepared.subject.targets.map((t) => [t.canonical.canonical, t.cut])).toEqual([[`http://127.0.0.1${path}`, undefined], [cut, true]]);
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toEqual([
      expect.objectContaining({ kind: 'domain_match', entry: 'evil.example', hop: 1 }),
    ]);
    // The cut URL matches only what the whole URL would: its exact query is gone.
    expect(blocklist('evil.example/login?x').matchTargets(prepared.subject.targets).matches).toEqual([]);
  });
});
