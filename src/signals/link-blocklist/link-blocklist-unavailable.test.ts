import { describe, expect, it } from 'vitest';
import { targetOf } from '../../../test/harness/link-targets.js';
import { ERROR_CODES, ScanError } from '../../errors.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import { canonicalEntry } from '../../lists/list-entry.js';
import { compileList, ListMatcher } from '../../lists/list-matcher.js';
import type { LinkSubject } from '../../pipeline/link-preparer.js';
import { createLinkBlocklistSignalType } from './index.js';

const list = (name: string, role: 'block' | 'allow', action: 'block' | 'review', ...entries: string[]) =>
  compileList({ name, version: '1', role, action }, entries.map((entry) => canonicalEntry(entry)));
const link = (...urls: string[]): LinkSubject => ({ input: urls[0]!, targets: urls.map((url, hop) => targetOf(url, hop)) });

/** What match() threw, or undefined when it returned. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('link-blocklist signal type while a list is not held (list_unavailable)', () => {
  const matcher = new ListMatcher([
    list('phish', 'block', 'block', 'evil.example'),
    list('suspicious', 'block', 'review', 'odd.example'),
    list('allow-partners', 'allow', 'block', 'partner.example'),
  ]);
  let unavailable: string[] = ['corrupt', 'loading'];
  const type = createLinkBlocklistSignalType({ current: () => matcher, unavailable: () => unavailable });

  it('is a transient error code, with a message in the style of hashset_unavailable', () => {
    expect(ERROR_CODES.list_unavailable.permanent).toBe(false);
    expect(ERROR_CODES.list_unavailable.message).toMatch(/list exists in Redis but this worker holds no copy/);
  });

  it('throws list_unavailable, naming the lists, for a link the held lists do not decide', () => {
    for (const subject of [link('http://clean.example/'), link('http://odd.example/'), link('http://partner.example/', 'http://clean.example/')]) {
      const error = thrown(() => type.match(subject, 2));
      expect(error).toBeInstanceOf(ScanError);
      expect(error).toMatchObject({ code: 'list_unavailable', permanent: false, detail: { lists: ['corrupt', 'loading'] } });
      expect((error as ScanError).message).toBe('no copy of list corrupt, loading is loaded yet: the link was not matched against it');
    }
  });

  it('lets a block by a held list stand, on any hop', () => {
    const signals = type.match(link('http://clean.example/', 'http://evil.example/x'), 0) as Signal[];
    expect(signals.map((signal) => [signal.evidence.list, signal.suggests, signal.evidence.hop])).toEqual([['phish', 'block', 1]]);
  });

  it('gives a link whose every URL a held allowlist covers its allowlist signals (no list can change it)', () => {
    const signals = type.match(link('http://partner.example/a', 'https://www.partner.example/b'), 0) as Signal[];
    expect(signals.map((signal) => signal.kind)).toEqual(['allowlist_match', 'allowlist_match']);
  });

  it('matches as usual once every list is held, and without an unavailable() (a fixed matcher)', () => {
    unavailable = [];
    expect(type.match(link('http://clean.example/'), 0)).toEqual([]);
    expect((type.match(link('http://odd.example/'), 0) as Signal[]).map((signal) => signal.suggests)).toEqual(['review']);
    const fixed = createLinkBlocklistSignalType({ current: () => matcher });
    expect(fixed.match(link('http://clean.example/'), 0)).toEqual([]);
  });
});
