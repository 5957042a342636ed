/**
 * A worker matches against the fleet's lists and hash sets in Redis and never reads
 * ABUSE_SCAN_LISTS_DIR or ABUSE_SCAN_HASHSETS_DIR: set, they used to be ignored without a word (a
 * link the directory blocks was allowed). It refuses to start instead, as `scan --fleet` refuses them.
 */
import { describe, expect, it } from 'vitest';
import { runCli, runNodeFile } from '../harness/cli.js';
import { uniquePrefix } from '../harness/redis.js';

const LISTS = "ABUSE_SCAN_LISTS_DIR: a worker matches against the fleet's lists in Redis, never files: unset it and load the files into Redis with `abuse-scan blocklist import`";
const HASH_SETS = "ABUSE_SCAN_HASHSETS_DIR: a worker matches against the fleet's hash sets in Redis, never files: unset it and load the files into Redis with `abuse-scan hashset import`";

describe('a worker with ABUSE_SCAN_LISTS_DIR or ABUSE_SCAN_HASHSETS_DIR set', () => {
  it.each([
    ['ABUSE_SCAN_LISTS_DIR', { ABUSE_SCAN_LISTS_DIR: 'fixtures/lists' }, `abuse-scan: invalid configuration: ${LISTS}\n`],
    ['ABUSE_SCAN_HASHSETS_DIR', { ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' }, `abuse-scan: invalid configuration: ${HASH_SETS}\n`],
    ['both', { ABUSE_SCAN_LISTS_DIR: 'fixtures/lists', ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' }, `abuse-scan: invalid configuration:\n  ${LISTS}\n  ${HASH_SETS}\n`],
  ])('%s: refuses to start, naming the variable and the import command (the worker entry too)', async (_what, directories, stderr) => {
    // A worker that did start takes no other test's jobs, and is killed at the timeout (code null).
    const env = { ...directories, ABUSE_SCAN_PREFIX: uniquePrefix('worker-dirs'), ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off' };
    const command = await runCli(['worker'], { env, timeoutMs: 15_000 });
    expect({ code: command.code, stdout: command.stdout, stderr: command.stderr }).toEqual({ code: 1, stdout: '', stderr });
    const entry = await runNodeFile('dist/workers/scan-worker.js', [], { env, timeoutMs: 15_000 });
    expect({ code: entry.code, stdout: entry.stdout, stderr: entry.stderr }).toEqual({ code: 1, stdout: '', stderr });
  }, 40_000);
});
