import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

export const VERDICT_SCHEMA_VERSION = 1;

export const DECISIONS = ['allow', 'review', 'block'] as const;
export type Decision = (typeof DECISIONS)[number];

const errorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

export const errorInfoSchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
  item: z.number().int().nonnegative().optional(),
  /** The item was still scanned; the error only limited what was seen. */
  partial: z.boolean().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

/** One piece of evidence that fired: which source, what kind, what exactly matched, how strongly. */
export const signalSchema = z.object({
  /** The subsystem that produced it: `blocklist`, `hashset`, `model`, `link`, ... */
  source: z.string(),
  /** What fired within the source: `url_match`, `pdq_match`, `image_model`, `non_http_scheme`, ... */
  kind: z.string(),
  /** Index of the job item it concerns. */
  item: z.number().int().nonnegative(),
  /** Strength in [0, 1]; the policy compares it to its thresholds. */
  score: z.number().min(0).max(1),
  /** The decision this signal asks for by itself (the policy may cap or raise it). */
  suggests: z.enum(DECISIONS),
  /** What matched: list and entry, hash set entry and distance, model id and label scores... */
  evidence: z.record(z.string(), z.unknown()),
});

export const itemResultSchema = z.object({
  index: z.number().int().nonnegative(),
  kind: z.enum(['link', 'image']),
  /** Log-safe description of the input (never inline bytes). */
  input: z.string(),
  status: z.enum(['ok', 'error']),
  error: errorInfoSchema.optional(),
  /** Per-kind facts: canonical URL and redirect chain, image size and hashes, ... */
  details: z.record(z.string(), z.unknown()),
});

export const verdictSchema = z.object({
  schemaVersion: z.literal(VERDICT_SCHEMA_VERSION),
  jobId: z.string(),
  contentId: z.string(),
  surface: z.string(),
  tenant: z.string().optional(),
  decision: z.enum(DECISIONS),
  /** Human-readable attribution: why the decision is what it is. */
  reasons: z.array(z.string()),
  signals: z.array(signalSchema),
  items: z.array(itemResultSchema),
  /** Job-level and item-level errors, as stable codes. */
  errors: z.array(errorInfoSchema),
  /** Milliseconds per stage, plus `total` and (on the queue path) `queueWait`. */
  timings: z.record(z.string(), z.number()),
  /** Versions of every list, hash set and model consulted, and of the scanner itself. */
  versions: z.object({
    scanner: z.string(),
    lists: z.record(z.string(), z.string()),
    hashSets: z.record(z.string(), z.string()),
    models: z.record(z.string(), z.string()),
  }),
  metadata: z.record(z.string(), z.string()).optional(),
  /** Which attempt produced it (1 = first). */
  attempt: z.number().int().positive(),
  createdAt: z.string(),
});

/**
 * A value of a vocabulary that grows with the fleet (error codes, item kinds): one this version
 * knows, or one a newer worker added. Code that switches on it needs a default branch.
 */
export type KnownOrNewer<Known extends string> = Known | (string & {});

const consumedErrorInfoSchema = errorInfoSchema.extend({ code: z.string<KnownOrNewer<ErrorCode>>() });

/**
 * A verdict as a consumer reads it from the results stream. Workers emit `verdictSchema`; during a
 * rolling deploy a newer worker may use error codes or item kinds this version does not know yet.
 * Such a verdict still carries a decision to act on, so consumers accept those values as strings
 * instead of dropping the verdict. Anything else (schemaVersion, decision, shape) stays strict.
 */
export const consumedVerdictSchema = verdictSchema.extend({
  items: z.array(
    itemResultSchema.extend({
      kind: z.string<KnownOrNewer<ItemResult['kind']>>(),
      error: consumedErrorInfoSchema.optional(),
    }),
  ),
  errors: z.array(consumedErrorInfoSchema),
});

export type Signal = z.infer<typeof signalSchema>;
export type ItemResult = z.infer<typeof itemResultSchema>;
export type Verdict = z.infer<typeof verdictSchema>;
export type VerdictVersions = Verdict['versions'];
/** What a verdict consumer's handler gets: a `Verdict`, except that error codes and item kinds may be newer than this version. */
export type ConsumedVerdict = z.infer<typeof consumedVerdictSchema>;
/** An item of a `ConsumedVerdict` (its kind, and its error's code, may be newer than this version). */
export type ConsumedItemResult = ConsumedVerdict['items'][number];
/** An error of a `ConsumedVerdict` (its code may be newer than this version). */
export type ConsumedErrorInfo = ConsumedVerdict['errors'][number];
