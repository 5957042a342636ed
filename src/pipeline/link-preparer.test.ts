import { describe, expect, it } from 'vitest';
import { canonicalEntry } from '../lists/list-entry.js';
import { compileList, ListMatcher } from '../lists/list-matcher.js';
import { LinkPreparer } from './link-preparer.js';

const blocklist = (...entries: string[]) =>
  new ListMatcher([compileList({ name: 'phish', version: '1', role: 'block', action: 'block' }, entries.map((entry) => canonicalEntry(entry)))]);

describe('LinkPreparer without unfurling', () => {
  it.each([
    ['http://google.com%2F@evil.example/login'],
    ['http://google.com%3F@evil.example/login'],
    ['google.com%2F@evil.example/login'],
  ])('%s: matches the host a browser visits (evil.example), not only the Safe Browsing reading (google.com)', async (link) => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
    expect(prepared.subject.targets[0]!.canonical.host).toBe('google.com');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toContain('http://evil.example/login');
    expect(prepared.subject.targets.find((t) => t.canonical.host === 'evil.example')?.registrableDomain).toBe('evil.example');
    expect(blocklist('evil.example').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    expect(prepared.details.hadUserinfo).toBe(true);
  });

  it('adds no second target when both readings agree', async () => {
    const prepared = await new LinkPreparer({ unfurl: false }).prepare('HTTP://User@Example.com:80/a/./b#x');
    expect(prepared.subject.targets.map((t) => t.canonical.canonical)).toEqual(['http://example.com/a/b']);
  });

  it('matches IPv4 hosts written with long runs of leading zeros', async () => {
    for (const link of ['http://0000000000001.2.3.4/', 'http://0x00000000000001020304/']) {
      const prepared = await new LinkPreparer({ unfurl: false }).prepare(link);
      expect(prepared.subject.targets[0]!.canonical).toMatchObject({ host: '1.2.3.4', hostIsIp: true });
      expect(blocklist('1.2.3.4').matchTargets(prepared.subject.targets).matches).toHaveLength(1);
    }
  });
});
