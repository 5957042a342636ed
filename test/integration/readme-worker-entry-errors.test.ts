/**
 * README: `dist/workers/scan-worker.js` "is the same worker" as `abuse-scan worker`, so a bad
 * setting ends it the same way: one `abuse-scan: <reason>: ...` line on stderr, exit 1, no stack.
 * And a missing ABUSE_SCAN_POLICY_FILE is `file not found: <path> (ABUSE_SCAN_POLICY_FILE)`, as
 * README promises of every file setting.
 */
import { describe, expect, it } from 'vitest';
import { runCli, runNodeFile } from '../harness/cli.js';

const STACK_LINE = /^\s+at /m;

describe('a worker that cannot start for its settings', () => {
  it.each([
    ['an invalid setting', { ABUSE_SCAN_CONCURRENCY: 'many' }, /^abuse-scan: invalid configuration: ABUSE_SCAN_CONCURRENCY: .*\n$/],
    ['a missing policy file', { ABUSE_SCAN_POLICY_FILE: 'nope.json' }, /^abuse-scan: file not found: nope\.json \(ABUSE_SCAN_POLICY_FILE\)\n$/],
  ])('%s: dist/workers/scan-worker.js reports it as `abuse-scan worker` does', async (_what, env, expected) => {
    const command = await runCli(['worker'], { env, timeoutMs: 20_000 });
    // As a process manager starts it.
    const entry = await runNodeFile('dist/workers/scan-worker.js', [], { env, timeoutMs: 20_000 });
    expect(command.stderr).toMatch(expected);
    expect({ code: entry.code, stdout: entry.stdout, stderr: entry.stderr }).toEqual({ code: command.code, stdout: command.stdout, stderr: command.stderr });
    expect(entry.stderr).not.toMatch(STACK_LINE);
    expect(entry.code).toBe(1);
  }, 40_000);

  it('a missing policy file stops `scan` with the same message', async () => {
    const { code, stderr } = await runCli(['scan', 'url', 'http://x.example/'], { env: { ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', ABUSE_SCAN_POLICY_FILE: 'nope.json' } });
    expect({ code, stderr }).toEqual({ code: 1, stderr: 'abuse-scan: file not found: nope.json (ABUSE_SCAN_POLICY_FILE)\n' });
  }, 30_000);
});
