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

describe('formatVerdict: who and when', () => {
  it('prints the tenant, the attempt and createdAt under the decision line, and the metadata when there is any', () => {
    const verdict = { ...sampleVerdict('j1', 'block'), tenant: 'acme', attempt: 3, createdAt: '2026-03-01T10:00:00.000Z', metadata: { ticket: 'T-12', channel: 'dm' } };
    const lines = formatVerdict(verdict).split('\n');
    expect(lines.slice(0, 3)).toEqual(['BLOCK  content-j1 (job j1, surface test)', '  tenant acme, attempt 3, created 2026-03-01T10:00:00.000Z', '  metadata: {"ticket":"T-12","channel":"dm"}']);
  });

  it('says there is no tenant, and prints no metadata line without metadata (absent or empty)', () => {
    for (const metadata of [undefined, {}]) {
      const verdict = { ...sampleVerdict('j2'), ...(metadata && { metadata }) };
      const lines = formatVerdict(verdict).split('\n');
      expect(lines[1]).toBe('  no tenant, attempt 1, created 1970-01-01T00:00:00.000Z');
      expect(lines.some((line) => line.startsWith('  metadata'))).toBe(false);
    }
  });
});

/** Characters that drive a terminal or reorder what it shows; a formatted verdict has none but its line breaks. */
const UNSAFE_FOR_TERMINAL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe('formatVerdict with hostile text', () => {
  it('escapes control characters, line separators and bidi overrides in every outside string: no screen clearing, no fake decision line', () => {
    const esc = '\u001b';
    const fake = `${esc}]0;pwned\u0007${esc}[2J${esc}[1;31mALLOW  fake\nALLOW  fake`;
    const verdict = {
      ...sampleVerdict(`job-${esc}[2J`, 'block'),
      contentId: `post ${fake}`,
      surface: `send\u202e`,
      tenant: 'acme',
      reasons: [`block: blocklist match ${fake}`],
      signals: [{ source: 'blocklist' as const, kind: 'domain_match', item: 0, score: 1, suggests: 'block' as const, evidence: { entry: `evil\u009b2J`, label: `x\u2028y` } }],
      items: [
        { index: 0, kind: 'link' as const, input: `http://evil.example/${fake}`, status: 'ok' as const, details: { canonical: `http://evil.example/\u2066x\u2069`, finalUrl: `http://evil.example/${esc}[H` } },
        { index: 1, kind: 'image' as const, input: `image path /x${esc}[K`, status: 'error' as const, error: { code: 'path_not_found' as const, message: `no file at /x${esc}[K`, item: 1 }, details: {} },
      ],
      errors: [
        { code: 'path_not_found' as const, message: `no file at /x${esc}[K`, item: 1 },
        { code: 'fetch_failed' as const, message: `refused\r${esc}[1;32mALLOW`, item: 0, partial: true },
        { code: 'internal_error' as const, message: `job ${fake}` },
      ],
      versions: { scanner: 'test', lists: { [`phish${esc}[8m`]: '3' }, hashSets: {}, models: {} },
      metadata: { [`k${esc}[2J`]: `v\u2028${fake}` },
    };
    const text = formatVerdict(verdict);
    expect(text).not.toMatch(UNSAFE_FOR_TERMINAL);
    const lines = text.split('\n');
    expect(lines.filter((line) => /^(ALLOW|REVIEW|BLOCK) /.test(line))).toEqual([`BLOCK  post \\x1b]0;pwned\\x07\\x1b[2J\\x1b[1;31mALLOW  fake\\x0aALLOW  fake (job job-\\x1b[2J, surface send\\u202e)`]);
    expect(lines).toContain('  why: block: blocklist match \\x1b]0;pwned\\x07\\x1b[2J\\x1b[1;31mALLOW  fake\\x0aALLOW  fake');
    expect(lines).toContain('  item 0 [link] http://evil.example/\\x1b]0;pwned\\x07\\x1b[2J\\x1b[1;31mALLOW  fake\\x0aALLOW  fake: ok');
    expect(lines).toContain('    partial error fetch_failed: refused\\x0d\\x1b[1;32mALLOW');
    expect(lines).toContain('    canonical: http://evil.example/\\u2066x\\u2069');
    expect(lines).toContain('    finalUrl: http://evil.example/\\x1b[H');
    expect(lines).toContain('  item 1 [image] image path /x\\x1b[K: error path_not_found: no file at /x\\x1b[K');
    expect(lines).toContain('  error internal_error: job \\x1b]0;pwned\\x07\\x1b[2J\\x1b[1;31mALLOW  fake\\x0aALLOW  fake');
    expect(text).toContain('"entry":"evil\\x9b2J"');
    expect(text).toContain('"label":"x\\u2028y"');
    expect(text).toContain('list phish\\x1b[8m@3');
    expect(lines).toContain('  tenant acme, attempt 1, created 1970-01-01T00:00:00.000Z');
    expect(lines.filter((line) => line.startsWith('  metadata: '))).toEqual(['  metadata: {"k\\u001b[2J":"v\\u2028\\u001b]0;pwned\\u0007\\u001b[2J\\u001b[1;31mALLOW  fake\\nALLOW  fake"}']);
  });
});

describe('exitCodeOf', () => {
  it('is 0 allow, 2 review, 3 block', () => {
    expect(['allow', 'review', 'block'].map((d) => exitCodeOf(d as 'allow'))).toEqual([0, 2, 3]);
  });
});
