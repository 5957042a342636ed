import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { base64DecodedLength } from './job-schema.js';
import { DEFAULT_JOB_LIMITS } from './limits.js';
import { isPathUnder, validateJob } from './validate-job.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ScanError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return undefined;
}

describe('validateJob', () => {
  const valid = { contentId: 'post-1', surface: 'upload', items: ['https://example.com/'] };

  it('accepts a minimal job and fills schemaVersion', () => {
    expect(validateJob(valid)).toEqual({ ...valid, schemaVersion: 1 });
  });

  it('accepts every item form', () => {
    const job = validateJob(
      { ...valid, tenant: 't1', items: ['https://a.example/', { url: 'https://img.example/x.png' }, { bytesBase64: 'aGVsbG8=' }, { path: 'a/b.png' }] },
      { imageRoot: '/srv/images' },
    );
    expect(job.items).toHaveLength(4);
  });

  it.each([
    ['missing contentId', { surface: 'upload', items: ['https://x.example/'] }, /invalid_job: contentId/],
    ['missing items', { contentId: 'c', surface: 'upload' }, /invalid_job: items/],
    ['empty items', { contentId: 'c', surface: 'upload', items: [] }, /invalid_job: items: a job needs at least one item/],
    ['wrong type', { contentId: 42, surface: 'upload', items: ['https://x.example/'] }, /invalid_job: contentId/],
    ['unknown field', { ...valid, extra: true }, /invalid_job/],
    ['item of the wrong shape', { ...valid, items: [{ href: 'x' }] }, /invalid_job: items\.0/],
    ['image with two sources', { ...valid, items: [{ url: 'https://x/', path: 'a' }] }, /invalid_job: items\.0/],
    ['non-base64 bytes', { ...valid, items: [{ bytesBase64: '!!!' }] }, /invalid_job: items\.0\.bytesBase64: bytesBase64 is not base64/],
    ['future schema version', { ...valid, schemaVersion: 2 }, /unsupported_schema_version/],
    ['not an object', 'hello', /invalid_job: \(job\)/],
    ['null', null, /invalid_job/],
  ])('refuses %s', (_name, input, expected) => {
    expect(codeOf(() => validateJob(input))).toMatch(expected);
  });

  it('refuses more items than the limit', () => {
    const items = Array.from({ length: DEFAULT_JOB_LIMITS.maxItems + 1 }, (_, i) => `https://x.example/${i}`);
    expect(codeOf(() => validateJob({ ...valid, items }))).toMatch(/invalid_job: items: a job has at most 100 items/);
  });

  it('refuses a URL longer than the limit', () => {
    const url = `https://x.example/${'a'.repeat(DEFAULT_JOB_LIMITS.maxUrlLength)}`;
    expect(codeOf(() => validateJob({ ...valid, items: [url] }))).toMatch(/invalid_job: items\.0/);
  });

  it('refuses oversized inline bytes as payload_too_large', () => {
    const bytesBase64 = Buffer.alloc(DEFAULT_JOB_LIMITS.maxInlineBytes + 1).toString('base64');
    expect(codeOf(() => validateJob({ ...valid, items: [{ bytesBase64 }] }))).toMatch(/^payload_too_large: items\.0\.bytesBase64/);
  });

  it('accepts inline bytes exactly at the cap', () => {
    const bytesBase64 = Buffer.alloc(DEFAULT_JOB_LIMITS.maxInlineBytes).toString('base64');
    expect(() => validateJob({ ...valid, items: [{ bytesBase64 }] })).not.toThrow();
  });

  it('refuses path items without an image root', () => {
    expect(codeOf(() => validateJob({ ...valid, items: [{ path: 'a.png' }] }))).toMatch(/^path_outside_root: .*image root/);
  });

  it.each(['../etc/passwd', '/etc/passwd', 'a/../../b.png', '/srv/images-evil/x.png'])('refuses path %s outside the root', (path) => {
    expect(codeOf(() => validateJob({ ...valid, items: [{ path }] }, { imageRoot: '/srv/images' }))).toMatch(/^path_outside_root/);
  });

  it('accepts absolute paths under the root', () => {
    expect(() => validateJob({ ...valid, items: [{ path: '/srv/images/x/y.png' }] }, { imageRoot: '/srv/images' })).not.toThrow();
  });
});

describe('isPathUnder', () => {
  it('treats the root itself as outside (it is not a file under it)', () => {
    expect(isPathUnder('/srv', '/srv')).toBe(false);
    expect(isPathUnder('/srv', '/srv/a')).toBe(true);
  });
});

describe('base64DecodedLength', () => {
  it.each([0, 1, 2, 3, 4, 5, 100, 1001])('is exact for %i bytes', (n) => {
    expect(base64DecodedLength(Buffer.alloc(n, 7).toString('base64'))).toBe(n);
  });
});
