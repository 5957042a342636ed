import { Command, Option } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ScanError } from '../errors.js';
import { EntryIdError, entryIdRefusal } from '../hashsets/hash-list-parser.js';
import { CliError, describeError, isCommanderExit, reportCliError, routeCommanderErrors } from './cli-errors.js';

describe('describeError', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('gives a ScanError its code and a CliError its reason', () => {
    expect(describeError(new ScanError('redis_unavailable', 'Redis at h:1 could not be reached'))).toEqual({ reason: 'redis_unavailable', lines: ['Redis at h:1 could not be reached'] });
    expect(describeError(new CliError('invalid JSON', 'job.json: Unexpected token'))).toEqual({ reason: 'invalid JSON', lines: ['job.json: Unexpected token'] });
  });

  it('gives an entry id a hash set cannot hold (EntryIdError, from HashSetStore.add) the reason `invalid entry`', () => {
    expect(describeError(new EntryIdError('', entryIdRefusal('')!))).toEqual({ reason: 'invalid entry', lines: [`${entryIdRefusal('')}: ""`] });
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

describe('routeCommanderErrors', () => {
  afterEach(() => vi.restoreAllMocks());

  /** A small program shaped like main.ts's: nested commands, arguments, choices, a mandatory option. */
  function program(): Command {
    const root = new Command().name('abuse-scan').version('1.2.3');
    const scan = root.command('scan');
    scan.command('image').argument('<file...>').option('--json').action(() => undefined);
    root.command('status').action(() => undefined);
    root
      .command('create')
      .argument('<name>')
      .addOption(new Option('--algorithm <algorithm>').choices(['pdq', 'blockhash']).makeOptionMandatory())
      .action(() => undefined);
    routeCommanderErrors(root);
    return root;
  }

  async function parseError(...args: string[]): Promise<unknown> {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const error = await program().parseAsync(['node', 'abuse-scan', ...args]).then(() => undefined, (e: unknown) => e);
    // Nothing printed by commander itself: the error is reportCliError's to print.
    expect(stderr).not.toHaveBeenCalled();
    return error;
  }

  it.each([
    [['scan', 'image'], 'invalid arguments', "missing required argument 'file' (see abuse-scan scan image --help)"],
    [['scan', 'image', 'a.jpg', '--bogus'], 'invalid option', "unknown option '--bogus' (see abuse-scan scan image --help)"],
    [['status', 'extra'], 'invalid arguments', "too many arguments for 'status'. Expected 0 arguments but got 1. (see abuse-scan status --help)"],
    [['create', 'x'], 'invalid option', "required option '--algorithm <algorithm>' not specified (see abuse-scan create --help)"],
    [['create', 'x', '--algorithm', 'md5'], 'invalid option', "option '--algorithm <algorithm>' argument 'md5' is invalid. Allowed choices are pdq, blockhash. (see abuse-scan create --help)"],
    [['create', 'x', '--algorithm'], 'invalid option', "option '--algorithm <algorithm>' argument missing (see abuse-scan create --help)"],
    [['nosuch'], 'invalid arguments', "unknown command 'nosuch' (see abuse-scan --help)"],
    [['scna'], 'invalid arguments', "unknown command 'scna' (Did you mean scan?) (see abuse-scan --help)"],
  ])('%j: a CliError for the one error printer, not commander\'s raw `error: ...`', async (args, reason, message) => {
    const error = await parseError(...args);
    expect(error).toBeInstanceOf(CliError);
    expect(describeError(error)).toEqual({ reason, lines: [message] });
  });

  it('lets help and version end the run with their own exit status', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const version = await program().parseAsync(['node', 'abuse-scan', '--version']).catch((e: unknown) => e);
    expect(isCommanderExit(version) && version.exitCode).toBe(0);
    const help = await program().parseAsync(['node', 'abuse-scan', 'scan', 'image', '--help']).catch((e: unknown) => e);
    expect(isCommanderExit(help) && help.exitCode).toBe(0);
    expect(stdout).toHaveBeenCalledWith('1.2.3\n');
  });
});

describe('reportCliError', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('prints outside text in a message escaped: an error quoting a link cannot drive the terminal', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    reportCliError(new ScanError('invalid_url', 'bad URL "http://x/\u001b[2J\u001b]0;t\u0007" \u202eevil'));
    reportCliError(new CliError('invalid input', 'line 1: \u009b31m\nline 2: x\u2028y'));
    expect(stderr.mock.calls.map(([text]) => text)).toEqual([
      'abuse-scan: invalid_url: bad URL "http://x/\\x1b[2J\\x1b]0;t\\x07" \\u202eevil\n',
      'abuse-scan: invalid input:\n  line 1: \\x9b31m\n  line 2: x\\u2028y\n',
    ]);
    expect(process.exitCode).toBe(1);
  });
});
