import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { DECISIONS, type Decision } from '../jobs/verdict-schema.js';
import { SIGNAL_SOURCES } from '../signals/signal-type.js';

const decision = z.enum(DECISIONS);
const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/**
 * Unreachable links are common and harmless to deliver, so a link whose unfurl hit a network
 * failure is judged on what was matched (allow); other partial errors (a redirect into a private
 * address, a loop) fall through to `defaultErrorDecision`.
 */
export const DEFAULT_PARTIAL_ERROR_DECISIONS: Readonly<Partial<Record<ErrorCode, Decision>>> = {
  fetch_timeout: 'allow',
  fetch_failed: 'allow',
  dns_failed: 'allow',
  tls_failed: 'allow',
  body_too_large: 'allow',
  http_error: 'allow',
};

/** Refuses keys outside a fixed vocabulary with a message naming the keys it knows. */
function refuseUnknownKeys(what: string, known: readonly string[]) {
  return (issue: z.core.$ZodRawIssue) =>
    issue.code === 'unrecognized_keys' ? `unknown ${what} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}; known: ${known.join(', ')}` : undefined;
}

/** A decision per key of a fixed vocabulary (error codes, signal sources). */
function decisionTable<const Key extends string>(what: string, keys: readonly [Key, ...Key[]]) {
  // JSON.parse keeps a "__proto__" key as an own property, and zod drops it without a word: refused
  // here like any other unknown key, or a misspelt policy would silently change nothing.
  return z.preprocess((input, context) => {
    if (typeof input === 'object' && input !== null && Object.hasOwn(input, '__proto__')) {
      context.addIssue({ code: 'custom', message: `unknown ${what} "__proto__"; known: ${keys.join(', ')}`, input });
    }
    return input;
  }, z.partialRecord(z.enum(keys), decision, { error: refuseUnknownKeys(what, keys) }));
}

/**
 * The decision policy's knobs, as written in ABUSE_SCAN_POLICY_FILE. Every field has a default,
 * so `{}` is a valid policy; unknown fields and unknown keys are refused, since a misspelt one
 * would silently change nothing. Tables are merged over the defaults, never replace them.
 */
const policyFields = {
  /**
   * Highest decision a signal source may cause on its own, e.g. `{ model: 'review' }` keeps a
   * classifier from blocking without a human. Default: no caps.
   */
  maxDecisionBySource: decisionTable('signal source', SIGNAL_SOURCES).default({}),
  /**
   * Decision for an error code, whether the item could not be scanned at all or (unless
   * `partialErrorDecisions` names the code) was scanned only in part. Default: none listed.
   */
  errorDecisions: decisionTable('error code', ERROR_CODE_NAMES).default({}),
  /**
   * Decision for errors that only limited what was seen of an item that was still scanned (a
   * link whose unfurl failed was still matched on its own URL; a signal type that failed left
   * the others'), by code. Merged over DEFAULT_PARTIAL_ERROR_DECISIONS.
   */
  partialErrorDecisions: decisionTable('error code', ERROR_CODE_NAMES).default({}),
  /** Decision for an error whose code no table lists. Default `review`. */
  defaultErrorDecision: decision.default('review'),
};

const policyFileSchema = z.strictObject(policyFields, { error: refuseUnknownKeys('policy field', Object.keys(policyFields)) });

/**
 * The policy as `decide` reads it, resolved once: for a partial error the code's entry in the
 * file's `partialErrorDecisions`, else in its `errorDecisions`, else the default partial table,
 * else `defaultErrorDecision`; for any other error `errorDecisions`, else `defaultErrorDecision`.
 * What you write always beats a default.
 */
export const policyConfigSchema = policyFileSchema.transform((file) => ({
  ...file,
  partialErrorDecisions: { ...DEFAULT_PARTIAL_ERROR_DECISIONS, ...file.errorDecisions, ...file.partialErrorDecisions },
}));

export type PolicyConfig = z.output<typeof policyConfigSchema>;

export const DEFAULT_POLICY: PolicyConfig = policyConfigSchema.parse({});
