import { describe, expect, it } from 'vitest';
import { sampleVerdict } from '../../test/harness/verdicts.js';
import { exitCodeOf, formatVerdict } from './verdict-format.js';

describe('formatVerdict', () => {
  it("prints every error of an item under it, with code and message: an ok item can still have been seen only in part", () => {
    const verdict = {
      ...sampleVerdict('j1', 'review'),
      reasons: ['review: partial error blocked_address on item 1'],
      items: [
        { index: 0, kind: 'link' as const, input: 'http://good.example@evil.example/login', status: 'ok' as const, details: { canonical: 'http://evil.example/login' } },
        { index: 1, kind: 'link' as const, input: 'http://127.0.0.1/x', status: 'ok' as const, details: {} },
        { index: 2, kind: 'image' as const, input: 'image path /x.jpg', status: 'error' as const, error: { code: 'path_not_found' as const, message: 'no file at /x.jpg', item: 2 }, details: {} },
      ],
      errors: [
        { code: 'dns_failed' as const, message: 'the hostname could not be resolved', item: 0, partial: true },
        { code: 'blocked_address' as const, message: 'refused to connect to 127.0.0.1 (loopback)', item: 1, partial: true },
        { code: 'path_not_found' as const, message: 'no file at /x.jpg', item: 2 },
        { code: 'internal_error' as const, message: 'job-level trouble' },
      ],
    };
    const lines = formatVerdict(verdict).split('\n');
    const after = (prefix: string) => lines[lines.findIndex((line) => line.startsWith(prefix)) + 1];
    expect(after('  item 0 [link]')).toBe('    partial error dns_failed: the hostname could not be resolved');
    expect(after('  item 1 [link]')).toBe('    partial error blocked_address: refused to connect to 127.0.0.1 (loopback)');
    // The item's own error is its status, not repeated.
    expect(lines).toContain('  item 2 [image] image path /x.jpg: error path_not_found: no file at /x.jpg');
    expect(lines.filter((line) => line.includes('path_not_found'))).toHaveLength(1);
    expect(lines).toContain('  error internal_error: job-level trouble');
  });
});

describe('exitCodeOf', () => {
  it('is 0 allow, 2 review, 3 block', () => {
    expect(['allow', 'review', 'block'].map((d) => exitCodeOf(d as 'allow'))).toEqual([0, 2, 3]);
  });
});
