import { describe, expect, it } from 'vitest';
import { targetOf } from '../../../test/harness/link-targets.js';
import { signalSchema, type Signal } from '../../jobs/verdict-schema.js';
import { canonicalEntry } from '../../lists/list-entry.js';
import { compileList, ListMatcher } from '../../lists/list-matcher.js';
import type { LinkSubject } from '../../pipeline/link-preparer.js';
import { createLinkBlocklistSignalType } from './index.js';

describe('link-blocklist signal type', () => {
  const matcher = new ListMatcher([
    compileList({ name: 'phish', version: '4', role: 'block', action: 'block' }, [{ ...canonicalEntry('http://short.example/abc'), reason: 'reported' }]),
    compileList({ name: 'suspicious', version: '9', role: 'block', action: 'review' }, [canonicalEntry('landing.example')]),
  ]);
  const type = createLinkBlocklistSignalType({ current: () => matcher });
  const subject: LinkSubject = { input: 'http://short.example/abc', targets: [targetOf('http://short.example/abc', 0), targetOf('https://www.landing.example/x', 1)] };

  it('gives one signal per hit, on every hop, with the list action and evidence', () => {
    const signals = type.match(subject, 3) as Signal[];
    for (const signal of signals) signalSchema.parse(signal);
    expect(signals).toEqual([
      {
        source: 'blocklist',
        kind: 'url_match',
        item: 3,
        score: 1,
        suggests: 'block',
        evidence: { list: 'phish', listVersion: '4', entry: 'http://short.example/abc', entryKind: 'url', reason: 'reported', expression: 'http://short.example/abc', hop: 0, url: 'http://short.example/abc' },
      },
      expect.objectContaining({ kind: 'domain_match', suggests: 'review', evidence: expect.objectContaining({ list: 'suspicious', entry: 'landing.example', hop: 1 }) }),
    ]);
  });

  it('gives an allowlisted hop one allowlist signal naming the entry and the block entries it overrode', () => {
    const partners = compileList({ name: 'allow-partners', version: '2', role: 'allow', action: 'block' }, [{ ...canonicalEntry('landing.example'), reason: 'partner since 2024' }]);
    const allowing = createLinkBlocklistSignalType({ current: () => new ListMatcher([...matcher.lists, partners]) });
    const signals = allowing.match(subject, 3) as Signal[];
    for (const signal of signals) signalSchema.parse(signal);
    expect(signals).toEqual([
      expect.objectContaining({ kind: 'url_match', suggests: 'block', evidence: expect.objectContaining({ list: 'phish', hop: 0 }) }),
      {
        source: 'blocklist',
        kind: 'allowlist_match',
        item: 3,
        score: 1,
        suggests: 'allow',
        evidence: {
          list: 'allow-partners',
          listVersion: '2',
          entry: 'landing.example',
          entryKind: 'domain',
          reason: 'partner since 2024',
          hop: 1,
          url: 'https://www.landing.example/x',
          overrode: [{ list: 'suspicious', entry: 'landing.example', entryKind: 'domain', suggests: 'review' }],
        },
      },
    ]);
  });

  it('reports the versions of every list', () => {
    expect(type.versions()).toEqual({ lists: { phish: '4', suspicious: '9' } });
  });
});
