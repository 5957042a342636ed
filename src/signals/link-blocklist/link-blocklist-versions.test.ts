import { describe, expect, it } from 'vitest';
import { targetOf } from '../../../test/harness/link-targets.js';
import type { Signal } from '../../jobs/verdict-schema.js';
import { canonicalEntry } from '../../lists/list-entry.js';
import { compileList, ListMatcher } from '../../lists/list-matcher.js';
import type { LinkSubject } from '../../pipeline/link-preparer.js';
import type { MatchContext } from '../signal-type.js';
import { createLinkBlocklistSignalType } from './index.js';

const phish = (version: string, ...entries: string[]) =>
  new ListMatcher([compileList({ name: 'phish', version, role: 'block', action: 'block' }, entries.map((entry) => canonicalEntry(entry)))]);
const link = (url: string): LinkSubject => ({ input: url, targets: [targetOf(url, 0)] });

describe('link-blocklist signal type: one version of the lists per job', () => {
  it("every item of a job is matched against the lists its first item met, and the job's versions name them", () => {
    let current = phish('4', 'first.example', 'second.example');
    const type = createLinkBlocklistSignalType({ current: () => current });
    const job: MatchContext = { jobId: 'j1', contentId: 'c1', surface: 'send' };
    const first = type.match(link('http://first.example/'), 0, job) as Signal[];
    // The replica swaps in version 5 (second.example removed) while the job's other items unfurl.
    current = phish('5', 'first.example');
    const second = type.match(link('http://second.example/'), 1, job) as Signal[];
    expect([...first, ...second].map((signal) => signal.evidence.listVersion)).toEqual(['4', '4']);
    expect(type.versions(job)).toEqual({ lists: { phish: '4' } });

    // Another job, started after the swap, sees version 5; without a job, the lists as they are now.
    const later: MatchContext = { jobId: 'j2', contentId: 'c2', surface: 'send' };
    expect(type.match(link('http://second.example/'), 0, later)).toEqual([]);
    expect(type.versions(later)).toEqual({ lists: { phish: '5' } });
    expect(type.versions()).toEqual({ lists: { phish: '5' } });
  });
});
