/**
 * `abuse-scan blocklist import` exit statuses, as `hashset import`'s: 0 all imported, 2 imported
 * with bad lines skipped, 1 nothing written (refused, a missing file, no good line at all, also
 * none at all (an empty or comments-only file): which makes no empty list either). Bad lines are
 * printed up to 50, then counted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { listCliSuite } from '../harness/list-cli-suite.js';

/** Runs a few CLI commands: seconds each when the machine is busy. */
const CLI_TEST_TIMEOUT = 120_000;

describe('abuse-scan blocklist import: exit status and bad-line report', () => {
  const { prefix, env, redis, store, dir } = listCliSuite('blocklist-import-exit');

  it('exits 0 when every line is imported, 2 when bad lines were skipped, 1 when the import was refused or the file is missing', async () => {
    const good = join(dir, 'good.txt');
    await writeFile(good, 'good.example\n');
    expect(await runCli(['blocklist', 'import', 'exit', good], { env })).toMatchObject({ code: 0, stderr: '', stdout: 'list exit: version 1, 1 added, 0 updated, 0 unchanged, 0 removed\n' });

    const partial = join(dir, 'partial.txt');
    await writeFile(partial, 'good.example\nsub.good2.example\nother.example\n');
    const skipped = await runCli(['blocklist', 'import', 'exit', partial], { env });
    expect(skipped.stdout).toBe('list exit: version 2, 1 added, 0 updated, 1 unchanged, 0 removed; 1 bad lines skipped\n');
    expect(skipped.stderr).toMatch(/^line 2: sub\.good2\.example is not a registrable domain[^\n]*\n$/);
    expect(skipped.code).toBe(2);

    const refused = await runCli(['blocklist', 'import', 'exit', partial, '--replace'], { env });
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/\nlist exit: nothing imported: 1 bad lines \(--replace allows none without --max-bad\)\n$/);
    expect(refused.code).toBe(1);
    const overMaxBad = await runCli(['blocklist', 'import', 'exit', partial, '--max-bad', '0'], { env });
    expect(overMaxBad.stderr).toMatch(/\nlist exit: nothing imported: 1 bad lines \(more than --max-bad 0\)\n$/);
    expect(overMaxBad.code).toBe(1);
    expect((await store.summary('exit'))!.version).toBe(2);

    const allowed = await runCli(['blocklist', 'import', 'exit', partial, '--replace', '--max-bad', '1'], { env });
    expect(allowed.stdout).toBe('list exit: version 2, 0 added, 0 updated, 2 unchanged, 0 removed; 1 bad lines skipped\n');
    expect(allowed.code).toBe(2);

    const missing = join(dir, 'nonexistent.txt');
    expect(await runCli(['blocklist', 'import', 'exit', missing], { env })).toMatchObject({ code: 1, stdout: '', stderr: `abuse-scan: file not found: ${missing}\n` });
  }, CLI_TEST_TIMEOUT);

  it('a file whose every line is bad imports nothing and makes no list (exit 1); bad lines are printed up to 50, then counted', async () => {
    const allBad = join(dir, 'allbad.txt');
    await writeFile(allBad, Array.from({ length: 3000 }, (_, i) => `d${i + 1}.sub.example\n`).join(''));
    const result = await runCli(['blocklist', 'import', 'allbad', allBad], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(52);
    expect(lines[0]).toMatch(/^line 1: d1\.sub\.example is not a registrable domain/);
    expect(lines[49]).toMatch(/^line 50: d50\.sub\.example /);
    expect(lines.slice(50)).toEqual(['(2950 more bad lines not shown)', 'list allbad: nothing imported: no entries, only 3000 bad lines']);
    expect(await store.summary('allbad')).toBeUndefined();
    expect(await store.names()).not.toContain('allbad');

    // Under the cap, every bad line and no count; the good lines are imported (exit 2).
    await writeFile(allBad, `ok.example\n${Array.from({ length: 50 }, (_, i) => `d${i + 1}.sub.example\n`).join('')}`);
    const fifty = await runCli(['blocklist', 'import', 'allbad', allBad], { env });
    expect(fifty.stderr.trimEnd().split('\n')).toHaveLength(50);
    expect(fifty.stderr).not.toContain('not shown');
    expect(fifty.code).toBe(2);
    expect(await store.summary('allbad')).toMatchObject({ version: 1, size: 1 });
  }, CLI_TEST_TIMEOUT);

  it('a file with no entry line at all (empty, only comments, only a CSV header) imports nothing: no list made, a listed one untouched (exit 1)', async () => {
    const files = { 'empty.txt': '', 'comments.txt': '# nothing today\n\n# still nothing\n', 'header.csv': 'entry,label\n' };
    for (const [file, text] of Object.entries(files)) {
      const path = join(dir, file);
      await writeFile(path, text);
      expect(await runCli(['blocklist', 'import', 'nothing', path], { env })).toMatchObject({ code: 1, stdout: '', stderr: 'list nothing: nothing imported: no entries in the file\n' });
      expect(await store.summary('nothing')).toBeUndefined();
      expect(await store.names()).not.toContain('nothing');
    }

    // An existing list: neither its entries nor its settings change (--action is not applied).
    const good = join(dir, 'listed.txt');
    await writeFile(good, 'listed.example\n');
    expect((await runCli(['blocklist', 'import', 'listed', good], { env })).code).toBe(0);
    const before = await store.summary('listed');
    const empty = join(dir, 'empty.txt');
    expect(await runCli(['blocklist', 'import', 'listed', empty, '--action', 'review'], { env })).toMatchObject({ code: 1, stdout: '', stderr: 'list listed: nothing imported: no entries in the file\n' });
    // --replace with no entries stays refused as before (an import never empties a list).
    expect(await runCli(['blocklist', 'import', 'listed', empty, '--replace'], { env })).toMatchObject({ code: 1, stdout: '', stderr: 'list listed: nothing imported: no entries (--replace would empty the list)\n' });
    expect(await store.summary('listed')).toEqual(before);
  }, CLI_TEST_TIMEOUT);
});
