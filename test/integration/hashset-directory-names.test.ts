/**
 * ABUSE_SCAN_HASHSETS_DIR, as an operator meets it through `abuse-scan scan image`: a file meant
 * as a hash set that is not named `<name>.<pdq|blockhash>[.<kind>].csv` stops the scan (exit 1,
 * naming the file and the form expected) instead of being skipped while images scan ALLOW, as
 * ABUSE_SCAN_LISTS_DIR stops on a file that is no list; the algorithm is read in any case.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, hashImage } from '../../src/images/index.js';
import { hashToHex } from '../../src/matching/hash-bits.js';
import { OFFLINE_CLI_ENV, runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';

/** The embedded scan without models, network or Redis. */
const CLOUDS = join(REPO_ROOT, 'fixtures', 'images', 'clouds.jpg');

describe('ABUSE_SCAN_HASHSETS_DIR: file names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'abuse-scan-hashset-directory-names-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a set file without its algorithm stops the scan naming it; with the algorithm in upper case it is the PDQ set and blocks', async () => {
    const pdq = hashToHex(hashImage(await decodeImage(readFileSync(CLOUDS))).pdq);
    const sets = mkdtempSync(join(dir, 'sets-'));
    writeFileSync(join(sets, 'README.md'), 'not a set: ignored');
    writeFileSync(join(sets, 'csam-known.csv'), `hash,label,id\n${pdq},clouds,clouds\n`);
    const env = { ...OFFLINE_CLI_ENV, ABUSE_SCAN_HASHSETS_DIR: sets };
    const misnamed = await runCli(['scan', 'image', CLOUDS], { env });
    expect(misnamed).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `abuse-scan: invalid_name: ${join(sets, 'csam-known.csv')}: not a hash-set file name: expected <name>.<pdq|blockhash>[.<block|review|negative>].csv (name: letters, digits, _ and -, up to 64, starting with a letter or digit)\n`,
    });

    rmSync(join(sets, 'csam-known.csv'));
    writeFileSync(join(sets, 'csam-known.PDQ.csv'), `hash,label,id\n${pdq},clouds,clouds\n`);
    const upper = await runCli(['scan', 'image', '--json', CLOUDS], { env });
    expect(upper.code).toBe(3);
    const verdict = JSON.parse(upper.stdout) as { decision: string; signals: Array<{ source: string; evidence: Record<string, unknown> }> };
    expect(verdict.signals.filter((signal) => signal.source === 'hashset')).toMatchObject([{ evidence: { set: 'csam-known', entryId: 'clouds' } }]);

    writeFileSync(join(sets, 'csam-known.pdq.csv'), `hash,label,id\n${pdq},clouds,clouds\n`);
    expect(await runCli(['scan', 'image', CLOUDS], { env })).toMatchObject({
      code: 1,
      stderr: `abuse-scan: invalid_name: ${join(sets, 'csam-known.PDQ.csv')} and ${join(sets, 'csam-known.pdq.csv')}: both are hash set "csam-known" (one file per set: merge them or rename one)\n`,
    });
  }, 60_000);
});
