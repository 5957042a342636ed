import { z } from 'zod';
import { DEFAULT_JOB_LIMITS, maxBase64Length, resolveJobLimits, type JobLimits } from './limits.js';

export const JOB_SCHEMA_VERSION = 1;

/**
 * Exact decoded length of a base64 string the schema accepted (its whitespace is CR, LF, tab or
 * space), without decoding it or copying it (a 5 MiB image's string is ~7 MB).
 */
export function base64DecodedLength(base64: string): number {
  const digits = base64.length - countOf(base64, BASE64_WHITESPACE);
  let padding = 0;
  for (let i = base64.length - 1; i >= 0 && padding < 2; i--) {
    const character = base64[i]!;
    if (character === '=') padding++;
    else if (!BASE64_WHITESPACE.includes(character)) break;
  }
  // Padding counts for no data, wherever the pattern let it be (the decoder stops at the first '='):
  // 'QUJD=' is 3 bytes, as 'QUJD' is.
  return Math.floor(((digits - padding) * 3) / 4);
}

/** The whitespace wrapped base64 holds (BASE64_PATTERN allows no other). */
const BASE64_WHITESPACE: readonly string[] = ['\n', '\r', '\t', ' '];
/** Of those, what JSON escapes (to two characters). */
const JSON_ESCAPED_WHITESPACE: readonly string[] = ['\n', '\r', '\t'];

/**
 * How many of `characters` `text` holds. indexOf skips fast over the runs between them; a text
 * dense with them (a hostile one: all whitespace) is counted in one pass over its characters.
 */
function countOf(text: string, characters: readonly string[]): number {
  const budget = (text.length >>> 5) + 16;
  let count = 0;
  for (const character of characters) {
    for (let at = text.indexOf(character); at !== -1; at = text.indexOf(character, at + 1)) {
      if (++count > budget) return countInOnePass(text, characters);
    }
  }
  return count;
}

function countInOnePass(text: string, characters: readonly string[]): number {
  const codes = new Set(characters.map((character) => character.charCodeAt(0)));
  let count = 0;
  for (let i = 0; i < text.length; i++) if (codes.has(text.charCodeAt(i))) count++;
  return count;
}

// Linear: whitespace may follow the padding, but no quantifier competes with the first one for
// it (`[...\s]*={0,2}\s*$` backtracks quadratically on a long run of whitespace before a bad character).
// Whitespace is what wrapped base64 holds (CRLF or LF line breaks, spaces, tabs), no other: so the
// string's size in JSON is known without serializing it (base64JsonBytes).
const BASE64_PATTERN = /^[A-Za-z0-9+/\r\n\t ]*(?:=[\r\n\t ]*){0,2}$/;

/**
 * UTF-8 bytes of a valid `bytesBase64` string in JSON, quotes included: one byte a character,
 * two for the escaped \r, \n and \t (`\\r`...). Exact for a string the schema accepted (its
 * characters are ASCII, and none other needs escaping); at most 2 * length + 2 (base64JsonBytesBound).
 */
export function base64JsonBytes(base64: string): number {
  return base64.length + countOf(base64, JSON_ESCAPED_WHITESPACE) + 2;
}

/** An upper bound of base64JsonBytes, in constant time. */
export function base64JsonBytesBound(base64: string): number {
  return 2 * base64.length + 2;
}

/** Characters in one metadata value. */
export const MAX_METADATA_VALUE_LENGTH = 1024;

/** Keys, key length and total UTF-8 bytes of a metadata record, checked in one pass. */
function checkMetadata(record: Record<string, string>, limits: Required<JobLimits>, ctx: z.RefinementCtx): void {
  const keys = Object.keys(record);
  if (keys.length > limits.maxMetadataKeys) {
    ctx.addIssue({ code: 'custom', message: `metadata has ${keys.length} keys, at most ${limits.maxMetadataKeys} are allowed` });
  }
  const long = keys.filter((key) => key.length > limits.maxMetadataKeyLength);
  if (long.length) {
    const first = JSON.stringify(long[0]!.slice(0, 40));
    ctx.addIssue({
      code: 'custom',
      message: `${long.length} metadata key(s) longer than ${limits.maxMetadataKeyLength} characters (the first: ${first}${long[0]!.length > 40 ? '…' : ''})`,
    });
  }
  let bytes = 0;
  for (const key of keys) {
    const value = record[key];
    bytes += Buffer.byteLength(key, 'utf8') + (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  }
  if (bytes > limits.maxMetadataBytes) {
    ctx.addIssue({ code: 'custom', message: `metadata is ${bytes} bytes (keys and values, UTF-8), at most ${limits.maxMetadataBytes} are allowed` });
  }
}

/** Raw length first (whitespace counts: it is stored and sent too), then the alphabet, then the decoded size. */
function checkBase64(value: string, limits: Required<JobLimits>, ctx: z.RefinementCtx): void {
  const maxLength = maxBase64Length(limits.maxInlineBytes);
  if (value.length > maxLength) {
    // Neither scanned nor copied further: it may be huge.
    ctx.addIssue({ code: 'custom', message: `bytesBase64 is ${value.length} characters, at most ${maxLength} are allowed (payload_too_large)`, params: { payloadTooLarge: true } });
    return;
  }
  if (!BASE64_PATTERN.test(value)) {
    ctx.addIssue({ code: 'custom', message: 'bytesBase64 is not base64' });
    return;
  }
  if (base64DecodedLength(value) > limits.maxInlineBytes) {
    ctx.addIssue({ code: 'custom', message: `inline image exceeds ${limits.maxInlineBytes} bytes (payload_too_large)`, params: { payloadTooLarge: true } });
  }
}

/**
 * Builds the job schema for a given set of limits. A scan job's items are links (plain strings)
 * and images, given by URL (`{ url }`), inline bytes (`{ bytesBase64 }`) or a file path under the
 * workers' image root (`{ path }`).
 */
/** A high surrogate not followed by a low one, or a low one not after a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether `text` is well-formed UTF-16 (String.prototype.isWellFormed). A lone surrogate becomes
 * U+FFFD on its way to UTF-8: in a hash (the default jobId) `photo-\uD83D` and `photo-\uFFFD` are
 * one content, and in a key (an explicit jobId) BullMQ's scripts and ioredis name two keys.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

const WELL_FORMED = 'must be well-formed Unicode (a lone UTF-16 surrogate, such as half an emoji cut off, is not)';

export function createJobSchema(jobLimits: JobLimits = DEFAULT_JOB_LIMITS) {
  const limits = resolveJobLimits(jobLimits);
  const id = z.string().min(1).max(limits.maxIdLength).refine(isWellFormedText, WELL_FORMED);
  const linkItem = z.string().min(1, 'a URL item must not be empty').max(limits.maxUrlLength, `a URL item must be at most ${limits.maxUrlLength} characters`);
  const imageByUrl = z.object({ url: z.string().min(1).max(limits.maxUrlLength) }).strict();
  const imageByBytes = z
    .object({
      bytesBase64: z
        .string()
        .min(1, 'bytesBase64 must not be empty')
        .superRefine((value, ctx) => checkBase64(value, limits, ctx)),
    })
    .strict();
  const imageByPath = z.object({ path: z.string().min(1).max(4096) }).strict();

  return z
    .object({
      schemaVersion: z.literal(JOB_SCHEMA_VERSION).default(JOB_SCHEMA_VERSION),
      contentId: id,
      surface: id.describe('where the content came from: upload, send, profile, ...'),
      // The default jobId hashes `<tenant>\u0000<contentId>`: a NUL in the tenant would let another
      // tenant's content take this one's jobId (and its verdict).
      tenant: id.refine((tenant) => !tenant.includes('\u0000'), 'a tenant must not contain U+0000').optional(),
      items: z
        .array(z.union([linkItem, imageByUrl, imageByBytes, imageByPath]))
        .min(1, 'a job needs at least one item')
        .max(limits.maxItems, `a job has at most ${limits.maxItems} items`),
      /** Free-form producer context, echoed in the verdict. */
      metadata: z
        .record(z.string(), z.string().max(MAX_METADATA_VALUE_LENGTH, `a metadata value must be at most ${MAX_METADATA_VALUE_LENGTH} characters`))
        .superRefine((record, ctx) => checkMetadata(record, limits, ctx))
        .optional(),
    })
    .strict();
}

export const scanJobSchema = createJobSchema();

/** What producers write (schemaVersion may be left out). */
export type ScanJobInput = z.input<typeof scanJobSchema>;
/** What workers read after validation. */
export type ScanJob = z.output<typeof scanJobSchema>;
export type ScanItem = ScanJob['items'][number];
export type ImageItem = Exclude<ScanItem, string>;

export type ItemKind = 'link' | 'image';

export function itemKind(item: ScanItem): ItemKind {
  return typeof item === 'string' ? 'link' : 'image';
}

/** A short, log-safe description of an item (never the inline bytes). */
export function describeItem(item: ScanItem): string {
  if (typeof item === 'string') return item.length > 200 ? `${item.slice(0, 200)}…` : item;
  if ('url' in item) return `image url ${item.url.slice(0, 200)}`;
  if ('path' in item) return `image path ${item.path}`;
  return `image bytes (${base64DecodedLength(item.bytesBase64)} B)`;
}
