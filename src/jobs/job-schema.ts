import { z } from 'zod';
import { DEFAULT_JOB_LIMITS, type JobLimits } from './limits.js';

export const JOB_SCHEMA_VERSION = 1;

/** Exact decoded length of a base64 string, without decoding it. */
export function base64DecodedLength(base64: string): number {
  const clean = base64.replace(/\s+/g, '');
  const padding = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0;
  return Math.floor((clean.length * 3) / 4) - padding;
}

const BASE64_PATTERN = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/**
 * Builds the job schema for a given set of limits. A scan job's items are links (plain strings)
 * and images, given by URL (`{ url }`), inline bytes (`{ bytesBase64 }`) or a file path under the
 * workers' image root (`{ path }`).
 */
export function createJobSchema(limits: JobLimits = DEFAULT_JOB_LIMITS) {
  const id = z.string().min(1).max(limits.maxIdLength);
  const linkItem = z.string().min(1, 'a URL item must not be empty').max(limits.maxUrlLength, `a URL item must be at most ${limits.maxUrlLength} characters`);
  const imageByUrl = z.object({ url: z.string().min(1).max(limits.maxUrlLength) }).strict();
  const imageByBytes = z
    .object({
      bytesBase64: z
        .string()
        .min(1, 'bytesBase64 must not be empty')
        .regex(BASE64_PATTERN, 'bytesBase64 is not base64')
        .refine((value) => base64DecodedLength(value) <= limits.maxInlineBytes, {
          message: `inline image exceeds ${limits.maxInlineBytes} bytes (payload_too_large)`,
        }),
    })
    .strict();
  const imageByPath = z.object({ path: z.string().min(1).max(4096) }).strict();

  return z
    .object({
      schemaVersion: z.literal(JOB_SCHEMA_VERSION).default(JOB_SCHEMA_VERSION),
      contentId: id,
      surface: id.describe('where the content came from: upload, send, profile, ...'),
      tenant: id.optional(),
      items: z
        .array(z.union([linkItem, imageByUrl, imageByBytes, imageByPath]))
        .min(1, 'a job needs at least one item')
        .max(limits.maxItems, `a job has at most ${limits.maxItems} items`),
      /** Free-form producer context, echoed in the verdict. */
      metadata: z.record(z.string(), z.string().max(1024)).optional(),
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
