import { describe, expect, it } from 'vitest';
import type { ErrorInfo } from '../errors.js';
import { decide } from './decide.js';
import { DEFAULT_PARTIAL_ERROR_DECISIONS, DEFAULT_POLICY, policyConfigSchema } from './policy-config.js';

/** A link whose unfurl failed with `code`: the link was still matched, the error is partial. */
const partial = (code: ErrorInfo['code']): ErrorInfo => ({ code, message: code, item: 0, partial: true });
const decisionOf = (policyFile: unknown, error: ErrorInfo) => decide([], [error], policyConfigSchema.parse(policyFile)).decision;
const issuesOf = (policyFile: unknown) => policyConfigSchema.safeParse(policyFile).error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);

describe('policy file', () => {
  it('merges a partialErrorDecisions entry over the defaults instead of replacing them', () => {
    const policyFile = { partialErrorDecisions: { redirect_loop: 'block' } };
    expect(decisionOf(policyFile, partial('redirect_loop'))).toBe('block');
    // Unreachable links still allow, as by default.
    for (const code of ['dns_failed', 'fetch_failed', 'fetch_timeout'] as const) expect(decisionOf(policyFile, partial(code))).toBe('allow');
    expect(policyConfigSchema.parse(policyFile).partialErrorDecisions).toEqual({ ...DEFAULT_PARTIAL_ERROR_DECISIONS, redirect_loop: 'block' });
  });

  it('applies errorDecisions to partial errors too, unless partialErrorDecisions names the code', () => {
    const policyFile = { errorDecisions: { dns_failed: 'review', blocked_address: 'block' } };
    expect(decisionOf(policyFile, partial('dns_failed'))).toBe('review');
    expect(decisionOf(policyFile, partial('blocked_address'))).toBe('block');
    expect(decisionOf(policyFile, { code: 'dns_failed', message: 'x', item: 0 })).toBe('review');
    expect(decisionOf({ ...policyFile, partialErrorDecisions: { dns_failed: 'allow' } }, partial('dns_failed'))).toBe('allow');
    // Codes nobody lists fall back to defaultErrorDecision, partial or not.
    expect(decisionOf({ defaultErrorDecision: 'block' }, partial('too_many_redirects'))).toBe('block');
    expect(decisionOf({ defaultErrorDecision: 'block' }, partial('fetch_timeout'))).toBe('allow');
  });

  it('refuses unknown fields, signal sources and error codes, naming the ones it knows', () => {
    expect(issuesOf({ maxDecisionBySource: { models: 'review' } })).toEqual(['maxDecisionBySource: unknown signal source "models"; known: blocklist, hashset, model']);
    expect(issuesOf({ errorDecision: { dns_failed: 'allow' } })).toEqual([
      ': unknown policy field "errorDecision"; known: maxDecisionBySource, errorDecisions, partialErrorDecisions, defaultErrorDecision',
    ]);
    expect(issuesOf({ partialErrorDecisions: { redirect_lop: 'block' } })).toEqual([expect.stringMatching(/^partialErrorDecisions: unknown error code "redirect_lop"; known: .*redirect_loop/)]);
    expect(issuesOf({ errorDecisions: { image_corrupt: 'maybe' } })).toEqual([expect.stringMatching(/^errorDecisions.image_corrupt: /)]);
    // A policy file's "__proto__" key (JSON.parse keeps it as an own property) is no exception.
    expect(issuesOf(JSON.parse('{"errorDecisions":{"__proto__":"block"}}'))).toEqual([expect.stringMatching(/^errorDecisions: unknown error code "__proto__"; known: /)]);
    expect(issuesOf(JSON.parse('{"maxDecisionBySource":{"__proto__":"allow"}}'))).toEqual(['maxDecisionBySource: unknown signal source "__proto__"; known: blocklist, hashset, model']);
  });

  it('an empty file is the default policy, and a parsed policy parses to itself', () => {
    expect(policyConfigSchema.parse({})).toEqual(DEFAULT_POLICY);
    const policy = policyConfigSchema.parse({ errorDecisions: { dns_failed: 'review' }, maxDecisionBySource: { model: 'review' } });
    expect(policyConfigSchema.parse(policy)).toEqual(policy);
  });
});
