import { z } from 'zod';
import { DECISIONS } from '../jobs/verdict-schema.js';

const decision = z.enum(DECISIONS);

/**
 * The decision policy's knobs. Every field has a default, so `{}` is a valid policy.
 */
export const policyConfigSchema = z.object({
  /**
   * Highest decision a signal source may cause on its own, e.g. `{ model: 'review' }` keeps a
   * classifier from blocking without a human. Default: no caps.
   */
  maxDecisionBySource: z.record(z.string(), decision).default({}),
  /**
   * Decision for content the fleet could not scan at all (an item or the whole job failed), by
   * error code; codes not listed use `defaultErrorDecision`. Default: none listed.
   */
  errorDecisions: z.record(z.string(), decision).default({}),
  /**
   * Decision for errors that only limited what was seen of an item that was still scanned (a
   * link whose unfurl failed was still matched on its own URL), by code; codes not listed use
   * `defaultErrorDecision`. Default: unreachable links are common and harmless to deliver, so
   * network failures allow; a redirect into a private address or a loop goes to review.
   */
  partialErrorDecisions: z.record(z.string(), decision).default({
    fetch_timeout: 'allow',
    fetch_failed: 'allow',
    dns_failed: 'allow',
    body_too_large: 'allow',
    http_error: 'allow',
  }),
  /** Decision for an error whose code is not listed. Default `review`. */
  defaultErrorDecision: decision.default('review'),
});

export type PolicyConfig = z.output<typeof policyConfigSchema>;
export type PolicyConfigInput = z.input<typeof policyConfigSchema>;

export const DEFAULT_POLICY: PolicyConfig = policyConfigSchema.parse({});
