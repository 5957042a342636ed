/**
 * `unfurl --concurrency` takes a positive integer, refused otherwise as other commands refuse bad
 * numbers: `abc` used to run with 8 and `-3` with 1, without a word.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';

// A loopback link: refused by the address guard, nothing fetched.
const LINK = 'http://127.0.0.1:1/';

describe('abuse-scan unfurl --concurrency', () => {
  it.each([['abc'], ['-3'], ['0'], ['1.5'], ['']])('%j: `invalid option`, exit 1, nothing unfurled', async (value) => {
    const result = await runCli(['unfurl', '--concurrency', value, LINK]);
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: `abuse-scan: invalid option: --concurrency needs a positive integer, got ${JSON.stringify(value)}\n`,
    });
  }, 30_000);

  it.each([[['--concurrency', '1']], [[]]])('%j: unfurls', async (flags) => {
    const result = await runCli(['unfurl', ...flags, LINK, LINK]);
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 1, stdout: `${LINK} !blocked_address\n`.repeat(2), stderr: '' });
  }, 30_000);
});
