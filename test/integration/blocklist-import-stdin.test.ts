/**
 * `abuse-scan blocklist import` reads its file once, as it comes, into a private temporary file of
 * canonical entries (validated in full before anything is written), so stdin (`-`) imports as a
 * file does, with the same report, refusals and exit statuses, and nothing is left in the
 * temporary directory, whatever the outcome.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { listCliSuite } from '../harness/list-cli-suite.js';

/** Runs a few CLI commands: seconds each when the machine is busy. */
const CLI_TEST_TIMEOUT = 120_000;

describe('abuse-scan blocklist import from stdin, through its temporary copy', () => {
  const { env: suiteEnv, store, dir } = listCliSuite('blocklist-import-stdin');
  let tmp: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    tmp = await mkdtemp(join(dir, 'tmp-'));
    env = { ...suiteEnv, TMPDIR: tmp };
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it('a TMPDIR it cannot write in: says so (not "file not found"), writes nothing, exit 1', async () => {
    const missing = join(tmp, 'not-there');
    const result = await runCli(['blocklist', 'import', 'no-tmp', '-'], { env: { ...env, TMPDIR: missing }, stdin: 'evil.example\n' });
    expect(result.stderr).toMatch(new RegExp(`^abuse-scan: temporary file unavailable: cannot create the import's temporary file in ${missing} \\(TMPDIR\\): ENOENT`));
    expect(result.code).toBe(1);
    expect((await runCli(['blocklist', 'list', 'no-tmp', '--json'], { env })).stdout).toBe('');
  }, CLI_TEST_TIMEOUT);

  it('imports stdin as a file: bad lines by number, repeats counted once, the first kept; exit 2', async () => {
    const stdin = 'entry,label\nhttps://evil.example/login,kit-1\nsub.evil.example,\nhttp://evil.example/login,kit-2\nother.example,\n';
    const result = await runCli(['blocklist', 'import', 'stdin', '-', '--format', 'csv'], { env, stdin });
    expect(result.stderr).toMatch(/^line 3: sub\.evil\.example is not a registrable domain[^\n]*\n$/);
    expect(result.stdout).toBe('list stdin: version 1, 2 added, 0 updated, 0 unchanged, 0 removed; 1 bad lines skipped; 1 duplicate lines\n');
    expect(result.code).toBe(2);
    const listed = await runCli(['blocklist', 'list', 'stdin', '--json'], { env });
    expect(listed.stdout.trimEnd().split('\n').map((line) => { const { kind, value, label } = JSON.parse(line); return { kind, value, label }; }).sort((a, b) => a.value.localeCompare(b.value))).toEqual([
      { kind: 'url', value: 'https://evil.example/login', label: 'kit-1' },
      { kind: 'domain', value: 'other.example', label: undefined },
    ]);
    expect(await readdir(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);

  it('--replace from stdin: the list becomes the input; refused (nothing written, exit 1) on a bad line or none', async () => {
    const lines = Array.from({ length: 12_000 }, (_, i) => `http://host${i}.example${i % 7}.com/p/${i}\n`).join('');
    const first = await runCli(['blocklist', 'import', 'big', '-'], { env, stdin: lines });
    expect(first).toMatchObject({ code: 0, stderr: '', stdout: 'list big: version 1, 12000 added, 0 updated, 0 unchanged, 0 removed\n' });

    const replaced = await runCli(['blocklist', 'import', 'big', '-', '--replace'], { env, stdin: `kept.example\n${lines.split('\n').slice(0, 10).join('\n')}\n` });
    expect(replaced).toMatchObject({ code: 0, stderr: '', stdout: 'list big: version 2, 1 added, 0 updated, 10 unchanged, 11990 removed\n' });
    expect(await store.summary('big')).toMatchObject({ version: 2, size: 11 });

    const bad = Array.from({ length: 60 }, (_, i) => `d${i}.sub.example\n`).join('');
    const refused = await runCli(['blocklist', 'import', 'big', '-', '--replace'], { env, stdin: `new.example\n${bad}` });
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trimEnd().split('\n').slice(49)).toEqual([
      expect.stringMatching(/^line 51: d49\.sub\.example /),
      '(10 more bad lines not shown)',
      'list big: nothing imported: 60 bad lines (--replace allows none without --max-bad)',
    ]);
    expect(refused.code).toBe(1);
    expect(await runCli(['blocklist', 'import', 'big', '-', '--replace'], { env, stdin: '# nothing\n' })).toMatchObject({ code: 1, stdout: '', stderr: 'list big: nothing imported: no entries (--replace would empty the list)\n' });
    expect(await store.summary('big')).toMatchObject({ version: 2, size: 11 });
    expect(await readdir(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);

  it('leaves nothing in the temporary directory when the file cannot be read as a list', async () => {
    const headerless = join(dir, 'headerless.csv');
    await writeFile(headerless, 'url,label\nevil.example,x\n');
    const refused = await runCli(['blocklist', 'import', 'nolist', headerless], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^abuse-scan: invalid list file: /);
    const missing = join(dir, 'missing.txt');
    expect(await runCli(['blocklist', 'import', 'nolist', missing], { env })).toMatchObject({ code: 1, stdout: '', stderr: `abuse-scan: file not found: ${missing}\n` });
    expect(await store.summary('nolist')).toBeUndefined();
    expect(await readdir(tmp)).toEqual([]);
  }, CLI_TEST_TIMEOUT);
});
