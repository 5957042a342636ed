import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerWorkerCommand } from '../cli/worker-command.js';
import { loadConfig, OVERRIDE_FLAGS, type FleetConfigInput } from './config.js';

/** loadConfig's error message, or a failure if it accepted the configuration. */
function problems(env: NodeJS.ProcessEnv, overrides: Partial<FleetConfigInput> = {}): string {
  try {
    loadConfig(env, overrides);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

const INTERNAL_KEYS = /^ {2}(concurrency|lockDurationMs|queues|metricsPort|policy|prefix|redisUrl)\b/m;

describe('invalid configuration names what the operator set', () => {
  it('the environment variable, for a value from the environment', () => {
    const message = problems({ ABUSE_SCAN_CONCURRENCY: '0', ABUSE_SCAN_LOCK_MS: '3000000000', ABUSE_SCAN_QUEUES: 'links,videos', ABUSE_SCAN_METRICS_PORT: '70000' });
    expect(message.split('\n')).toEqual([
      'invalid configuration:',
      '  ABUSE_SCAN_QUEUES queue "videos": Invalid option: expected one of "links"|"images"',
      '  ABUSE_SCAN_CONCURRENCY: Too small: expected number to be >0',
      '  ABUSE_SCAN_LOCK_MS: must be at most 2147483647 ms (about 24.8 days, the longest timer Node keeps)',
      '  ABUSE_SCAN_METRICS_PORT: Too big: expected number to be <=65535',
    ]);
    expect(message).not.toMatch(INTERNAL_KEYS);
  });

  it('a bad queue by its name, wherever it stands in the list (the list is deduplicated first)', () => {
    expect(problems({ ABUSE_SCAN_QUEUES: 'links,links,images,bad' })).toContain('\n  ABUSE_SCAN_QUEUES queue "bad": Invalid option');
    expect(problems({ ABUSE_SCAN_QUEUES: ',' })).toContain('\n  ABUSE_SCAN_QUEUES: Too small');
  });

  it('the command-line flag, for a value from a flag, also over a valid variable', () => {
    const env = { ABUSE_SCAN_CONCURRENCY: '4', ABUSE_SCAN_QUEUES: 'links', ABUSE_SCAN_LOCK_MS: '3000000000' };
    const message = problems(env, { concurrency: '0', queues: 'bar', metricsPort: '70000' });
    expect(message.split('\n')).toEqual([
      'invalid configuration:',
      '  --queues queue "bar": Invalid option: expected one of "links"|"images"',
      '  --concurrency: Too small: expected number to be >0',
      // Not given as a flag: still the variable.
      '  ABUSE_SCAN_LOCK_MS: must be at most 2147483647 ms (about 24.8 days, the longest timer Node keeps)',
      '  --metrics-port: Too big: expected number to be <=65535',
    ]);
    expect(message).not.toMatch(/ABUSE_SCAN_CONCURRENCY|ABUSE_SCAN_QUEUES|ABUSE_SCAN_METRICS_PORT/);
    // A flag left out (undefined) leaves the variable in charge, and named.
    expect(problems({ ABUSE_SCAN_CONCURRENCY: '0' }, { concurrency: undefined })).toContain('\n  ABUSE_SCAN_CONCURRENCY: Too small');
  });

  it('the policy file variable and the field inside the file; the prefix refused on a cluster by its variable', () => {
    const file = join(tmpdir(), `policy-names-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ defaultErrorDecision: 'maybe' }));
    expect(problems({ ABUSE_SCAN_POLICY_FILE: file })).toMatch(/\n {2}ABUSE_SCAN_POLICY_FILE defaultErrorDecision: Invalid option/);
    expect(problems({ REDIS_URL: 'redis-cluster://10.0.0.1:7000', ABUSE_SCAN_PREFIX: 'abuse' })).toMatch(/\n {2}ABUSE_SCAN_PREFIX: "abuse" has no hash tag/);
    expect(problems({ REDIS_URL: 'not a url' })).toBe('invalid configuration:\n  REDIS_URL: not a Redis URL');
    // The path is the database number: `/db1` crashed the worker with an unhandled SELECT NaN.
    expect(problems({ REDIS_URL: 'redis://:secret@127.0.0.1:6379/db1' })).toBe('invalid configuration:\n  REDIS_URL: the path of a Redis URL is the database number (redis://host:6379/0)');
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'rediss://h:6380/3', '/var/run/redis.sock']) expect(() => loadConfig({ REDIS_URL: url })).not.toThrow();
  });

  it('knows the flag of every `abuse-scan worker` option that overrides a variable', () => {
    const program = new Command();
    registerWorkerCommand(program);
    const worker = program.commands.find((command) => command.name() === 'worker')!;
    const flags = Object.fromEntries(worker.options.map((option) => [option.attributeName(), option.long]));
    expect(flags).toEqual(OVERRIDE_FLAGS);
  });
});
