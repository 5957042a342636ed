import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ScanError, type ErrorCode } from './errors.js';

/**
 * Which failures a job is retried for (README, Retries): those of the network, of Redis, of a copy
 * not loaded yet and of a model run. Every other code is the input's own, and its verdict comes at
 * once: retrying it would only delay the same answer.
 */
const TRANSIENT: readonly ErrorCode[] = [
  'fetch_timeout',
  'fetch_failed',
  'dns_failed',
  'hashset_unavailable',
  'list_unavailable',
  'model_failed',
  'redis_unavailable',
  'verdict_timeout',
  'internal_error',
];

describe('error codes', () => {
  it('retries exactly the transient ones', () => {
    const transient = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => !ERROR_CODES[code].permanent);
    expect(transient.sort()).toEqual([...TRANSIENT].sort());
  });

  it('a ScanError takes its permanence from its code', () => {
    expect(new ScanError('dns_failed', 'x').permanent).toBe(false);
    expect(new ScanError('image_corrupt', 'x').permanent).toBe(true);
  });
});
