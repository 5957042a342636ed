import { isAbsolute, relative, resolve } from 'node:path';
import type { z } from 'zod';
import { ScanError } from '../errors.js';
import { createJobSchema, scanJobSchema, type ScanJob } from './job-schema.js';
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
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
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
  const jobBytes = Buffer.byteLength(JSON.stringify(job), 'utf8');
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
