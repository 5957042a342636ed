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
   * Decision for content the fleet could not scan (an item or the whole job failed) by error
   * code; codes not listed use `defaultErrorDecision`. Defaults: unreachable links are common and
   * harmless to deliver (their URL was still matched), so network failures allow.
   */
  errorDecisions: z.record(z.string(), decision).default({
    fetch_timeout: 'allow',
    fetch_failed: 'allow',
    dns_failed: 'allow',
    body_too_large: 'allow',
  }),
  /** Decision for an unscannable item or job whose error code is not in `errorDecisions`. Default `review`. */
  defaultErrorDecision: decision.default('review'),
});

export type PolicyConfig = z.output<typeof policyConfigSchema>;
export type PolicyConfigInput = z.input<typeof policyConfigSchema>;

export const DEFAULT_POLICY: PolicyConfig = policyConfigSchema.parse({});
