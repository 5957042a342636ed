import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { z } from 'zod';
import { ScanError } from '../errors.js';
import { base64JsonBytes, base64JsonBytesBound, createJobSchema, scanJobSchema, type ScanJob } from './job-schema.js';
import { DEFAULT_JOB_LIMITS, resolveJobLimits, type JobLimits } from './limits.js';

export interface JobValidationOptions {
  limits?: JobLimits;
  /**
   * Directory that `{ path }` image items must lie under. Without one, path items are refused:
   * a producer must never make a worker read an arbitrary file.
   */
  imageRoot?: string | undefined;
}

/** True when `candidate` resolves to a location inside `root` (lexically; workers re-check with realpath). */
export function isPathUnder(root: string, candidate: string): boolean {
  const absoluteRoot = resolve(root);
  const absolute = resolve(absoluteRoot, candidate);
  const rel = relative(absoluteRoot, absolute);
  // `..a.jpg` is a file in the root; `..` and `../x` are outside it.
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * A path segment or message of an issue, bounded: an untrusted job's keys end up in both (a
 * metadata key, an unknown field), and the message lands in an error verdict.
 */
function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function issuePath(issue: z.core.$ZodIssue): string[] {
  return issue.path.map((segment) => bounded(String(segment), 64));
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((issue) => `${issue.path.length ? issuePath(issue).join('.') : '(job)'}: ${bounded(issue.message, 300)}`)
    .join('; ');
}

/** An issue the schema raised for a size cap (inline bytes): `payload_too_large`. */
function isPayloadTooLarge(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && (issue.params as { payloadTooLarge?: boolean } | undefined)?.payloadTooLarge === true;
}

/**
 * An upper bound of the UTF-8 bytes of JSON.stringify(value), without building it: a UTF-16 unit
 * of a string is at most 6 bytes (a control character or a lone surrogate as `\u001f`).
 */
function jsonBytesBound(value: unknown): number {
  if (typeof value === 'string') return 6 * value.length + 2;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value).length : 4;
  if (typeof value === 'boolean') return 5;
  if (value === null || value === undefined) return 4;
  if (Array.isArray(value)) {
    let bytes = 2 + value.length; // brackets and commas
    for (const element of value) bytes += jsonBytesBound(element);
    return bytes;
  }
  if (typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    let bytes = 2;
    for (const key in value) {
      if (Object.hasOwn(value, key)) bytes += 6 * key.length + 4 + jsonBytesBound((value as Record<string, unknown>)[key]); // quotes, colon, comma
    }
    return bytes;
  }
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

function isInlineImage(item: unknown): item is { bytesBase64: string } {
  return typeof item === 'object' && item !== null && typeof (item as { bytesBase64?: unknown }).bytesBase64 === 'string';
}

/**
 * The UTF-8 bytes of a validated job serialized as JSON (what is stored in Redis), without
 * serializing its inline images: exact whenever it is over `atMost`, otherwise possibly a bound
 * (still at most `atMost`). The inline strings, up to megabytes each, are measured by length (their
 * characters are checked by the schema: base64JsonBytes), first as a constant-time bound; only
 * when the bound of the whole job is over `atMost` is the rest serialized and the escaped line
 * breaks counted. Pass `atMost` = -1 for the exact size.
 */
export function jobJsonBytes(job: ScanJob, atMost: number): number {
  let bound = 2;
  let inline = false;
  for (const key in job) {
    if (!Object.hasOwn(job, key)) continue;
    const value = (job as Record<string, unknown>)[key];
    bound += 6 * key.length + 4;
    if (key !== 'items' || !Array.isArray(value)) {
      bound += jsonBytesBound(value);
      continue;
    }
    bound += 2 + value.length;
    for (const item of value) {
      if (!isInlineImage(item)) {
        bound += jsonBytesBound(item);
        continue;
      }
      inline = true;
      bound += jsonBytesBound({ ...item, bytesBase64: '' }) - 2 + base64JsonBytesBound(item.bytesBase64);
    }
  }
  if (bound <= atMost) return bound;
  if (!inline) return Buffer.byteLength(JSON.stringify(job), 'utf8');
  // The job with empty inline strings, then each string's exact size in their place.
  let bytes = Buffer.byteLength(JSON.stringify({ ...job, items: job.items.map((item) => (isInlineImage(item) ? { ...item, bytesBase64: '' } : item)) }), 'utf8');
  for (const item of job.items) if (isInlineImage(item)) bytes += base64JsonBytes(item.bytesBase64) - 2;
  return bytes;
}

const schemaCache = new WeakMap<JobLimits, ReturnType<typeof createJobSchema>>();

function schemaFor(limits: JobLimits) {
  if (limits === DEFAULT_JOB_LIMITS) return scanJobSchema;
  let schema = schemaCache.get(limits);
  if (!schema) {
    schema = createJobSchema(limits);
    schemaCache.set(limits, schema);
  }
  return schema;
}

/**
 * Validates an untrusted job (from a producer, or raw from the queue). Throws a permanent
 * ScanError: `payload_too_large` (an inline image, or the whole job serialized as JSON, over its
 * cap), `path_outside_root`, `unsupported_schema_version` or `invalid_job`, whose message names
 * every offending field.
 */
export function validateJob(input: unknown, options: JobValidationOptions = {}): ScanJob {
  const limits = options.limits ?? DEFAULT_JOB_LIMITS;
  // Parsed into a record, a `__proto__` metadata key would set its prototype instead of making an
  // entry: dropped without a word, whatever its value. Only the input shows it.
  const metadata = (input as { metadata?: unknown } | null)?.metadata;
  if (typeof metadata === 'object' && metadata !== null && Object.hasOwn(metadata, '__proto__')) {
    const message = 'metadata: a metadata key must not be __proto__';
    throw new ScanError('invalid_job', message, { issues: [{ path: ['metadata'], message: 'a metadata key must not be __proto__' }] });
  }
  const result = schemaFor(limits).safeParse(input);
  if (!result.success) {
    const issues = result.error.issues;
    const message = formatIssues(issues);
    const detail = { issues: issues.slice(0, 20).map((i) => ({ path: issuePath(i), message: bounded(i.message, 300) })) };
    if (issues.some(isPayloadTooLarge)) {
      throw new ScanError('payload_too_large', message, detail);
    }
    if (issues.some((i) => i.path[0] === 'schemaVersion')) {
      throw new ScanError('unsupported_schema_version', message, detail);
    }
    throw new ScanError('invalid_job', message, detail);
  }
  const job = result.data;
  // Every field is bounded by now, but items times their caps is not: the job as stored is.
  const { maxJobBytes } = resolveJobLimits(limits);
  const jobBytes = jobJsonBytes(job, maxJobBytes);
  if (jobBytes > maxJobBytes) {
    throw new ScanError('payload_too_large', `(job): the job is ${jobBytes} bytes as JSON, at most ${maxJobBytes} are allowed`, { jobBytes, maxJobBytes });
  }
  job.items.forEach((item, index) => {
    if (typeof item === 'string' || !('path' in item)) return;
    if (!options.imageRoot || !isPathUnder(options.imageRoot, item.path)) {
      throw new ScanError(
        'path_outside_root',
        options.imageRoot
          ? `items.${index}.path: ${JSON.stringify(item.path)} is not under the image root ${options.imageRoot}`
          : `items.${index}.path: path items need a configured image root (ABUSE_SCAN_IMAGE_ROOT)`,
        { item: index },
      );
    }
  });
  return job;
}
