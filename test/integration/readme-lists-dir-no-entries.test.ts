/**
 * README, Running workers: in ABUSE_SCAN_LISTS_DIR "a file that is no list ... stops the scan". A
 * file from which no entry can be read (a CSV feed saved as .txt, an empty file) is no list, as
 * `blocklist import` refuses it: scanning on with it as an empty list would ALLOW what it was
 * meant to block while the verdict names it as consulted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OFFLINE_CLI_ENV, runCli } from '../harness/cli.js';


describe('ABUSE_SCAN_LISTS_DIR: a list file with no entry stops the scan', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-lists-no-entries-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('a CSV feed saved as .txt: `invalid list file`, exit 1, no verdict', async () => {
    await writeFile(join(dir, 'phish.txt'), 'entry,label\nevil.example,kit-3\n');
    const { code, stdout, stderr } = await runCli(['scan', 'url', 'http://evil.example/'], { env: { ...OFFLINE_CLI_ENV, ABUSE_SCAN_LISTS_DIR: dir } });
    expect(stdout).toBe('');
    expect(stderr).toBe(`abuse-scan: invalid list file: ${join(dir, 'phish.txt')}: no entries, only 2 bad lines (line 1 "entry,label": "entry,label" does not name a host (letters, digits, '-', '_' and dots, or an IP address))\n`);
    expect(code).toBe(1);
    // The same file saved as .csv is the list it was meant to be.
    await rm(join(dir, 'phish.txt'));
    await writeFile(join(dir, 'phish.csv'), 'entry,label\nevil.example,kit-3\n');
    const blocked = await runCli(['scan', 'url', 'http://evil.example/'], { env: { ...OFFLINE_CLI_ENV, ABUSE_SCAN_LISTS_DIR: dir } });
    expect(blocked.stdout).toMatch(/^BLOCK /);
    expect(blocked.code).toBe(3);
  }, 30_000);

  it('an empty file: `invalid list file` naming it, exit 1', async () => {
    await writeFile(join(dir, 'allow-partners.txt'), '');
    const { code, stdout, stderr } = await runCli(['scan', 'url', 'http://evil.example/'], { env: { ...OFFLINE_CLI_ENV, ABUSE_SCAN_LISTS_DIR: dir } });
    expect({ code, stdout, stderr }).toEqual({ code: 1, stdout: '', stderr: `abuse-scan: invalid list file: ${join(dir, 'allow-partners.txt')}: no entries in the file\n` });
  }, 30_000);
});
