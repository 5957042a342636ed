import { describe, expect, it } from 'vitest';
import type { Signal } from '../jobs/verdict-schema.js';
import { decide, formatScore } from './decide.js';
import { DEFAULT_POLICY, policyConfigSchema } from './policy-config.js';

const signal = (overrides: Partial<Signal>): Signal => ({
  source: 'blocklist',
  kind: 'url_match',
  item: 0,
  score: 1,
  suggests: 'block',
  evidence: {},
  ...overrides,
});

describe('decide', () => {
  it('allows when nothing fired', () => {
    expect(decide([], [], DEFAULT_POLICY)).toEqual({ decision: 'allow', reasons: [] });
  });

  it('takes the strictest suggestion and lists the reasons strictest first', () => {
    const outcome = decide([signal({ suggests: 'review', source: 'model', kind: 'image_model', score: 0.7 }), signal({})], [], DEFAULT_POLICY);
    expect(outcome.decision).toBe('block');
    expect(outcome.reasons).toEqual([
      'block: blocklist/url_match on item 0, score 1.000',
      'review: model/image_model on item 0, score 0.700',
    ]);
  });

  it('caps a source at its configured ceiling', () => {
    const policy = policyConfigSchema.parse({ maxDecisionBySource: { model: 'review' } });
    const outcome = decide([signal({ source: 'model', kind: 'image_model' })], [], policy);
    expect(outcome.decision).toBe('review');
    expect(outcome.reasons[0]).toContain('capped from block for source model');
  });

  it('caps every suggestion above the ceiling, not only block: an observe-only source (allow) turns its reviews into allow', () => {
    const observeOnly = policyConfigSchema.parse({ maxDecisionBySource: { model: 'allow' } });
    const outcome = decide([signal({ source: 'model', kind: 'url_model', suggests: 'review', score: 0.8 })], [], observeOnly);
    expect(outcome.decision).toBe('allow');
    expect(outcome.reasons[0]).toContain('capped from review for source model');
  });

  it('maps errors through errorDecisions, falling back to defaultErrorDecision', () => {
    // A link whose unfurl timed out was still matched: allow. An image that could not be fetched was not scanned: review.
    expect(decide([], [{ code: 'fetch_timeout', message: 'slow', item: 0, partial: true }], DEFAULT_POLICY).decision).toBe('allow');
    expect(decide([], [{ code: 'fetch_timeout', message: 'slow', item: 0 }], DEFAULT_POLICY).decision).toBe('review');
    expect(decide([], [{ code: 'blocked_address', message: 'ssrf', item: 0, partial: true }], DEFAULT_POLICY).reasons).toEqual([
      'review: partial error blocked_address on item 0',
    ]);
    expect(decide([], [{ code: 'image_corrupt', message: 'bad', item: 1 }], DEFAULT_POLICY)).toEqual({
      decision: 'review',
      reasons: ['review: error image_corrupt on item 1'],
    });
    const strict = policyConfigSchema.parse({ defaultErrorDecision: 'block' });
    expect(decide([], [{ code: 'invalid_job', message: 'x' }], strict).reasons).toEqual(['block: error invalid_job on job']);
  });

  it('names the signal type whose failure a partial error records', () => {
    const failed = { code: 'model_failed', message: 'inference failed', item: 2, partial: true, detail: { signalType: 'image-model' } } as const;
    expect(decide([], [failed], DEFAULT_POLICY).reasons).toEqual(['review: partial error model_failed in signal type image-model on item 2']);
  });

  it('an allowlist match overrides every other signal about the same link target, and says so', () => {
    const allowlisted = signal({ kind: 'allowlist_match', suggests: 'allow', evidence: { list: 'allow-partners', entry: 'secure-update.xyz', hop: 0 } });
    const urlModel = signal({ source: 'model', kind: 'url_model', evidence: { model: 'url-lexical-logreg', hop: 0 } });
    expect(decide([urlModel, allowlisted], [], DEFAULT_POLICY)).toEqual({
      decision: 'allow',
      reasons: [
        'allow: model/url_model on item 0, score 1.000 (block overridden by allowlist allow-partners entry secure-update.xyz on hop 0)',
        'allow: blocklist/allowlist_match on item 0, score 1.000 (allowlist allow-partners entry secure-update.xyz on hop 0)',
      ],
    });
    // Per target: another hop of the chain, another item, or a signal about no URL still counts.
    expect(decide([allowlisted, signal({ source: 'model', kind: 'url_model', suggests: 'review', evidence: { hop: 1 } })], [], DEFAULT_POLICY).decision).toBe('review');
    expect(decide([allowlisted, signal({ item: 1, evidence: { hop: 0 } })], [], DEFAULT_POLICY).decision).toBe('block');
    expect(decide([allowlisted, signal({ source: 'hashset', kind: 'pdq_match' })], [], DEFAULT_POLICY).decision).toBe('block');
  });

  it('says why something that fired did not count: a cap down to allow, a known-good match that hid a known-bad one, what an allowlist overrode', () => {
    const observeOnly = policyConfigSchema.parse({ maxDecisionBySource: { blocklist: 'allow' } });
    expect(decide([signal({ kind: 'domain_match' })], [], observeOnly)).toEqual({
      decision: 'allow',
      reasons: ['allow: blocklist/domain_match on item 0, score 1.000 (capped from block for source blocklist)'],
    });
    const knownGood = signal({
      source: 'hashset',
      kind: 'pdq_match',
      suggests: 'allow',
      evidence: { set: 'good', entryId: 'g1', distance: 0, knownGood: true, suppressed: [{ set: 'bad', entryId: 'c1', distance: 10, frame: 0, knownGoodEntryId: 'g1', knownGoodDistance: 0 }] },
    });
    expect(decide([knownGood], [], DEFAULT_POLICY)).toEqual({
      decision: 'allow',
      reasons: ['allow: hashset/pdq_match on item 0, score 1.000 (known-good good/g1 at distance 0 hid bad/c1 at distance 10)'],
    });
    // A known-good match that hid nothing explains nothing.
    expect(decide([signal({ ...knownGood, evidence: { ...knownGood.evidence, suppressed: [] } })], [], DEFAULT_POLICY).reasons).toEqual([]);
    const overrode = Array.from({ length: 5 }, (_, i) => ({ list: 'phish', entry: `e${i}.example` }));
    const allowlisted = signal({ kind: 'allowlist_match', suggests: 'allow', evidence: { list: 'allow-partners', entry: 'good.example', hop: 0, overrode } });
    expect(decide([allowlisted], [], DEFAULT_POLICY).reasons).toEqual([
      'allow: blocklist/allowlist_match on item 0, score 1.000 (allowlist allow-partners entry good.example on hop 0; it overrode phish/e0.example, phish/e1.example, phish/e2.example and 2 more)',
    ]);
  });

  it('shows scores cut to three decimals, never rounded up to a threshold they did not reach', () => {
    expect(formatScore(0.98951)).toBe('0.989');
    expect(formatScore(0.29)).toBe('0.290');
    expect(formatScore(1)).toBe('1.000');
    expect(formatScore(0)).toBe('0.000');
    expect(formatScore(0.98995, 4)).toBe('0.9899');
    expect(formatScore(0.5, 6)).toBe('0.500000');
    expect(decide([signal({ source: 'model', kind: 'url_model', score: 0.98951, suggests: 'review' })], [], DEFAULT_POLICY).reasons).toEqual(['review: model/url_model on item 0, score 0.989']);
  });

  it('never lets an error lower what a signal asks for', () => {
    expect(decide([signal({})], [{ code: 'fetch_failed', message: 'x', item: 0, partial: true }], DEFAULT_POLICY).decision).toBe('block');
  });
});
