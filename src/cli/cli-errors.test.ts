import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ScanError } from '../errors.js';
import { CliError, describeError } from './cli-errors.js';

describe('describeError', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('gives a ScanError its code and a CliError its reason', () => {
    expect(describeError(new ScanError('redis_unavailable', 'Redis at h:1 could not be reached'))).toEqual({ reason: 'redis_unavailable', lines: ['Redis at h:1 could not be reached'] });
    expect(describeError(new CliError('invalid JSON', 'job.json: Unexpected token'))).toEqual({ reason: 'invalid JSON', lines: ['job.json: Unexpected token'] });
  });

  it('formats a zod error one line per field, not as issue JSON', () => {
    const schema = z.object({ algorithm: z.enum(['pdq', 'blockhash']), flood: z.object({ maxItems: z.number().int().positive() }) });
    const result = schema.safeParse({ algorithm: 'md5', flood: { maxItems: -1 } });
    expect(describeError(result.error)).toEqual({
      reason: 'invalid input',
      lines: [expect.stringMatching(/^algorithm: Invalid option: expected one of "pdq"\|"blockhash"$/), expect.stringMatching(/^flood\.maxItems: Too small/)],
    });
  });

  it('names a missing file, and the ABUSE_SCAN_ variable that named it', async () => {
    vi.stubEnv('ABUSE_SCAN_LISTS_DIR', '/nonexistent-lists');
    const { readdir } = await import('node:fs/promises');
    const error = await readdir('/nonexistent-lists').catch((e: unknown) => e);
    expect(describeError(error)).toEqual({ reason: 'file not found', lines: ['/nonexistent-lists (ABUSE_SCAN_LISTS_DIR)'] });
  });
});
