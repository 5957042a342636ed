import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { base64DecodedLength } from './job-schema.js';
import { DEFAULT_JOB_LIMITS, maxBase64Length } from './limits.js';
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

describe('validateJob bounds the size of a job', () => {
  const valid = { contentId: 'post-1', surface: 'upload', items: ['https://example.com/'] };
  const metadataOf = (count: number, keyOf = (i: number) => `k${i}`, value = 'v') => Object.fromEntries(Array.from({ length: count }, (_, i) => [keyOf(i), value]));

  it('accepts metadata at every limit', () => {
    const limits = { ...DEFAULT_JOB_LIMITS, maxMetadataKeys: 4, maxMetadataKeyLength: 8, maxMetadataBytes: 4 * (8 + 10) };
    const metadata = metadataOf(4, (i) => `key-${i}`.padEnd(8, 'x'), 'v'.repeat(10));
    expect(validateJob({ ...valid, metadata }, { limits }).metadata).toEqual(metadata);
  });

  it('refuses more metadata keys than maxMetadataKeys (default 64), quickly and in a short message', () => {
    expect(codeOf(() => validateJob({ ...valid, metadata: metadataOf(64) }))).toBeUndefined();
    const started = Date.now();
    const message = codeOf(() => validateJob({ ...valid, metadata: metadataOf(20_000) }));
    expect(message).toMatch(/^invalid_job: metadata: metadata has 20000 keys, at most 64 are allowed/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a metadata key longer than maxMetadataKeyLength (default 128) without quoting it whole', () => {
    expect(codeOf(() => validateJob({ ...valid, metadata: { ['k'.repeat(128)]: 'v' } }))).toBeUndefined();
    const message = codeOf(() => validateJob({ ...valid, metadata: { ['k'.repeat(1_000_000)]: 'v' } }))!;
    expect(message).toMatch(/^invalid_job: metadata: 1 metadata key\(s\) longer than 128 characters/);
    expect(message.length).toBeLessThan(500);
  });

  it('refuses metadata of more than maxMetadataBytes (default 16384) in UTF-8, keys and values together', () => {
    // 16 values of 1024 characters: every value is allowed, together they are over.
    expect(codeOf(() => validateJob({ ...valid, metadata: metadataOf(16, (i) => `k${i}`, 'v'.repeat(1024)) }))).toMatch(
      /^invalid_job: metadata: metadata is 16422 bytes \(keys and values, UTF-8\), at most 16384 are allowed/,
    );
    // Counted in bytes: 700 characters of 3 bytes each, 11 values.
    expect(codeOf(() => validateJob({ ...valid, metadata: metadataOf(11, (i) => `k${i}`, '€'.repeat(700)) }))).toMatch(/^invalid_job: metadata: metadata is \d+ bytes/);
  });

  it('keeps the message of a refused job short whatever the job holds (an unknown field with a huge name)', () => {
    const message = codeOf(() => validateJob({ ...valid, ['x'.repeat(1_000_000)]: 1, metadata: { ['y'.repeat(1_000_000)]: 'v'.repeat(2000) } }))!;
    expect(message).toMatch(/^invalid_job/);
    expect(message.length).toBeLessThan(2000);
  });

  it('counts whitespace in bytesBase64 against its length: a huge run of whitespace is payload_too_large', () => {
    const max = maxBase64Length(DEFAULT_JOB_LIMITS.maxInlineBytes);
    expect(max).toBeLessThan(Math.ceil((DEFAULT_JOB_LIMITS.maxInlineBytes * 4) / 3) * 1.04);
    const whitespace = `${' '.repeat(max)}aGVsbG8=`;
    expect(codeOf(() => validateJob({ ...valid, items: [{ bytesBase64: whitespace }] }))).toMatch(/^payload_too_large: items\.0\.bytesBase64: bytesBase64 is \d+ characters, at most 7208962 are allowed/);
    // What the reviewer saw: three items of 52 MB of whitespace.
    const huge = ' '.repeat(52_000_000);
    expect(codeOf(() => validateJob({ ...valid, items: [{ bytesBase64: huge }, { bytesBase64: huge }, { bytesBase64: huge }] }))).toMatch(/^payload_too_large/);
  });

  it('accepts a maximal inline image wrapped in lines of 64 characters with CRLF (PEM style)', () => {
    const encoded = Buffer.alloc(DEFAULT_JOB_LIMITS.maxInlineBytes, 7).toString('base64');
    const wrapped = encoded.match(/.{1,64}/g)!.join('\r\n') + '\r\n';
    expect(() => validateJob({ ...valid, items: [{ bytesBase64: wrapped }] })).not.toThrow();
  });

  it('rejects non-base64 after a long run of whitespace in linear time', () => {
    const started = Date.now();
    expect(codeOf(() => validateJob({ ...valid, items: [{ bytesBase64: `${' '.repeat(200_000)}!` }] }))).toMatch(/^invalid_job: items\.0\.bytesBase64: bytesBase64 is not base64/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a job larger than maxJobBytes (default 32 MiB) serialized, as payload_too_large', () => {
    const image = { bytesBase64: Buffer.alloc(DEFAULT_JOB_LIMITS.maxInlineBytes).toString('base64') };
    expect(codeOf(() => validateJob({ ...valid, items: [image, image, image, image] }))).toBeUndefined();
    expect(codeOf(() => validateJob({ ...valid, items: [image, image, image, image, image] }))).toMatch(
      /^payload_too_large: \(job\): the job is \d+ bytes as JSON, at most 33554432 are allowed/,
    );
    const limits = { ...DEFAULT_JOB_LIMITS, maxJobBytes: 1000 };
    const items = Array.from({ length: 20 }, (_, i) => `https://x.example/${'a'.repeat(50)}/${i}`);
    expect(codeOf(() => validateJob({ ...valid, items }, { limits }))).toMatch(/^payload_too_large: \(job\)/);
  });

  it('applies the defaults of limits a caller wrote without the metadata and job limits', () => {
    const limits = { maxItems: 100, maxUrlLength: 8192, maxInlineBytes: 1000, maxIdLength: 256 };
    expect(codeOf(() => validateJob({ ...valid, metadata: metadataOf(65) }, { limits }))).toMatch(/^invalid_job: metadata: metadata has 65 keys/);
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
