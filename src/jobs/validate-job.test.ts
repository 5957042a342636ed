import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ScanError } from '../errors.js';
import { base64DecodedLength, base64JsonBytes, base64JsonBytesBound, isWellFormedText } from './job-schema.js';
import { DEFAULT_JOB_LIMITS, maxBase64Length } from './limits.js';
import { isPathUnder, jobJsonBytes, validateJob } from './validate-job.js';

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

  it('refuses a __proto__ metadata key, which parsing would drop without a word, whatever its value', () => {
    for (const metadata of ['{"__proto__":{"x":1}}', '{"__proto__":"x","a":"b"}']) {
      const input: unknown = JSON.parse(`{"contentId":"c","surface":"s","items":["https://a.example/"],"metadata":${metadata}}`);
      expect(codeOf(() => validateJob(input))).toBe('invalid_job: metadata: a metadata key must not be __proto__');
    }
    expect(validateJob({ ...valid, metadata: { proto: 'x' } }).metadata).toEqual({ proto: 'x' });
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

describe('the size of a job as JSON (maxJobBytes), measured without serializing its inline images', () => {
  const valid = { contentId: 'post-1', surface: 'upload', items: ['https://example.com/'] };
  const exactBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

  afterEach(() => vi.restoreAllMocks());

  // Any UTF-16 unit, and the ones JSON escapes or encodes long: quotes, backslashes, controls,
  // U+2028, lone surrogates, multi-byte characters and pairs.
  const unit = fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    fc.constantFrom('"', '\\', '\n', '\r', '\t', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', 'é', '€', '😀', 'a', '/'),
  );
  const text = (minLength: number, maxLength: number) => fc.string({ unit, minLength, maxLength });
  // Base64 of any bytes, wrapped or sprinkled with the whitespace the schema allows, padding included.
  const base64 = fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom('\r\n', '\n', '\r', '\t', ' ', '\r\n\r\n')), { maxLength: 20 }))
    .map(([bytes, breaks]) => {
      let encoded = Buffer.from(bytes).toString('base64');
      for (const [at, space] of breaks) {
        const position = at % (encoded.length + 1);
        encoded = encoded.slice(0, position) + space + encoded.slice(position);
      }
      return encoded;
    });
  const item = fc.oneof(
    text(1, 40),
    text(1, 40).map((url) => ({ url })),
    base64.map((bytesBase64) => ({ bytesBase64 })),
    fc.stringMatching(/^[a-z0-9]{1,12}\.png$/).map((name) => ({ path: `img/${name}` })),
  );
  const job = fc.record(
    {
      schemaVersion: fc.constant(1),
      // Ids are well-formed Unicode (they are hashed into the default jobId); items and metadata
      // may hold lone surrogates.
      contentId: text(1, 30).filter(isWellFormedText),
      surface: text(1, 30).filter(isWellFormedText),
      // A tenant never holds U+0000 (it separates tenant and contentId in the default jobId).
      tenant: text(1, 30).filter((tenant) => !tenant.includes('\u0000') && isWellFormedText(tenant)),
      items: fc.array(item, { minLength: 1, maxLength: 8 }),
      metadata: fc.dictionary(text(0, 12).filter((key) => key !== '__proto__'), text(0, 40), { maxKeys: 6 }),
    },
    { requiredKeys: ['contentId', 'surface', 'items'] },
  );

  it('is exactly Buffer.byteLength(JSON.stringify(job)) at and over the cap, and payload_too_large over it (property)', () => {
    fc.assert(
      fc.property(job, fc.integer({ min: -3, max: 3 }), (input, delta) => {
        const validated = validateJob(input, { imageRoot: '/srv/images' });
        const exact = exactBytes(validated);
        expect(jobJsonBytes(validated, -1)).toBe(exact);
        // A bound, never below the size, when the cap is far.
        expect(jobJsonBytes(validated, Number.MAX_SAFE_INTEGER)).toBeGreaterThanOrEqual(exact);
        const cap = Math.max(0, exact + delta);
        const measured = jobJsonBytes(validated, cap);
        expect(measured > cap).toBe(exact > cap);
        if (measured > cap) expect(measured).toBe(exact);
        let refused: ScanError | undefined;
        try {
          validateJob(input, { imageRoot: '/srv/images', limits: { ...DEFAULT_JOB_LIMITS, maxJobBytes: cap } });
        } catch (error) {
          refused = error as ScanError;
        }
        if (exact > cap) {
          expect(refused?.code).toBe('payload_too_large');
          expect(refused?.detail).toEqual({ jobBytes: exact, maxJobBytes: cap });
        } else {
          expect(refused).toBeUndefined();
        }
      }),
      { numRuns: 400 },
    );
  });

  it.each([
    ['control characters', '\u0001'],
    ['lone surrogates', '\udc00'],
    ['three-byte characters', '€'],
    ['quotes', '"'],
  ])('bounds the rest of the job from above however it escapes (%s), and refuses it exactly over the cap', (_name, character) => {
    const long = character.repeat(DEFAULT_JOB_LIMITS.maxUrlLength);
    // An id holds no lone surrogate (isWellFormedText): the items and metadata carry those.
    const input = { contentId: (isWellFormedText(character) ? character : 'c').repeat(256), surface: 's', items: [long, { url: long }, { bytesBase64: 'aGVsbG8=' }], metadata: { [character.repeat(100)]: character.repeat(1000) } };
    const validated = validateJob(input);
    const exact = exactBytes(validated);
    expect(jobJsonBytes(validated, Number.MAX_SAFE_INTEGER)).toBeGreaterThanOrEqual(exact);
    expect(jobJsonBytes(validated, exact - 1)).toBe(exact);
    expect(codeOf(() => validateJob(input, { limits: { ...DEFAULT_JOB_LIMITS, maxJobBytes: exact - 1 } }))).toMatch(/^payload_too_large: \(job\)/);
    expect(codeOf(() => validateJob(input, { limits: { ...DEFAULT_JOB_LIMITS, maxJobBytes: exact } }))).toBeUndefined();
  });

  it('never serializes an inline image: four maximal ones accepted, a fifth refused with the exact size', () => {
    const image = { bytesBase64: Buffer.alloc(DEFAULT_JOB_LIMITS.maxInlineBytes, 7).toString('base64') };
    const serialized: number[] = [];
    const stringify = JSON.stringify;
    vi.spyOn(JSON, 'stringify').mockImplementation(function (this: unknown, ...args: Parameters<typeof JSON.stringify>) {
      const result = stringify.apply(JSON, args) as string | undefined;
      serialized.push(result?.length ?? 0);
      return result as string;
    });
    const four = { ...valid, items: [image, image, image, image] };
    expect(codeOf(() => validateJob(four))).toBeUndefined();
    const five = { ...valid, items: [image, image, image, image, image] };
    let refused: ScanError | undefined;
    try {
      validateJob(five);
    } catch (error) {
      refused = error as ScanError;
    }
    expect(Math.max(0, ...serialized)).toBeLessThan(10_000);
    vi.restoreAllMocks();
    expect(refused?.code).toBe('payload_too_large');
    expect(refused?.detail).toEqual({ jobBytes: exactBytes({ ...five, schemaVersion: 1 }), maxJobBytes: DEFAULT_JOB_LIMITS.maxJobBytes });
  });

  it('keeps the trivial job cheap: no serialization at all under the cap', () => {
    const spy = vi.spyOn(JSON, 'stringify');
    expect(codeOf(() => validateJob(valid))).toBeUndefined();
    expect(spy).not.toHaveBeenCalled();
  });

  it.each([
    ['form feed', 'aGVs\fbG8='],
    ['vertical tab', 'aGVs\vbG8='],
    ['no-break space', 'aGVs\u00a0bG8='],
    ['line separator', 'aGVsbG8=\u2028'],
    ['byte order mark', '\ufeffaGVsbG8='],
  ])('allows only the whitespace of wrapped base64 (CR, LF, tab, space) in bytesBase64: refuses a %s', (_name, bytesBase64) => {
    expect(codeOf(() => validateJob({ ...valid, items: [{ bytesBase64 }] }))).toMatch(/^invalid_job: items\.0\.bytesBase64: bytesBase64 is not base64/);
    expect(codeOf(() => validateJob({ ...valid, items: [{ bytesBase64: 'aG Vs\tbG8=\r\n' }] }))).toBeUndefined();
  });

  it.each([
    ['unwrapped', Buffer.alloc(1000, 7).toString('base64')],
    ['PEM wrapped (CRLF every 64)', Buffer.alloc(3000, 7).toString('base64').match(/.{1,64}/g)!.join('\r\n')],
    ['padding spread over lines', 'aGVsbA=\n=\t \r\n'],
    ['nothing but line breaks (counted in one pass)', '\n\r\t '.repeat(5000)],
  ])('base64JsonBytes is exact and within its bound: %s', (_name, value) => {
    expect(base64JsonBytes(value)).toBe(exactBytes(value));
    expect(base64JsonBytesBound(value)).toBeGreaterThanOrEqual(exactBytes(value));
  });
});

describe('isPathUnder', () => {
  it('treats the root itself as outside (it is not a file under it)', () => {
    expect(isPathUnder('/srv', '/srv')).toBe(false);
    expect(isPathUnder('/srv', '/srv/a')).toBe(true);
  });

  it('tells names that start with two dots from a step up', () => {
    for (const inside of ['..a.jpg', '...', '..2024/x.jpg', 'a/../b.jpg']) expect(isPathUnder('/srv', inside)).toBe(true);
    for (const outside of ['..', '../x.jpg', '../../etc/passwd', '/etc/passwd', 'a/../../x']) expect(isPathUnder('/srv', outside)).toBe(false);
  });
});

describe('base64DecodedLength', () => {
  it.each([0, 1, 2, 3, 4, 5, 100, 1001])('is exact for %i bytes', (n) => {
    expect(base64DecodedLength(Buffer.alloc(n, 7).toString('base64'))).toBe(n);
  });

  it.each([1, 2, 3, 64, 1001, 3000])('is exact for %i bytes wrapped with CRLF, LF, tabs and spaces, padding spread over lines', (n) => {
    const base64 = Buffer.alloc(n, 7).toString('base64');
    const wrapped = base64.match(/.{1,7}/g)!.join(['\r\n', '\n', '\t', ' '][n % 4]!).replace(/=/g, '=\n ');
    expect(base64DecodedLength(wrapped)).toBe(n);
    expect(base64DecodedLength(' \n'.repeat(5000) + base64 + '\r\n'.repeat(5000))).toBe(n); // dense whitespace: counted in one pass
  });

  it('is what the decoder gives for padding where none belongs (it stops at the first =)', () => {
    for (const text of ['QUJD=', 'QUJD==', 'QUJDREVG=', 'QQ=', 'QUI==']) expect(base64DecodedLength(text)).toBe(Buffer.from(text, 'base64').length);
  });
});
