/**
 * README, Running workers: a file in ABUSE_SCAN_HASHSETS_DIR with no entry to load stops the scan,
 * as a list file with none does (readme-lists-dir-no-entries.test.ts): a set whose only hash is
 * below the quality floor would otherwise ALLOW its image while the verdict names it as consulted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OFFLINE_CLI_ENV, runCli } from '../harness/cli.js';


describe('ABUSE_SCAN_HASHSETS_DIR: a set file with no entry stops the scan', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-hashsets-no-entries-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('a PDQ set whose only hash is below the quality floor: `invalid hash set file`, exit 1, no verdict', async () => {
    await writeFile(join(dir, 'csam.pdq.csv'), `hash,label,id,quality\n${'a'.repeat(64)},flat,e1,12\n`);
    const { code, stdout, stderr } = await runCli(['scan', 'image', 'fixtures/images/rings.jpg'], { env: { ...OFFLINE_CLI_ENV, ABUSE_SCAN_HASHSETS_DIR: dir } });
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toMatch(new RegExp(`^abuse-scan: invalid hash set file: ${join(dir, 'csam.pdq.csv').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no entry to load: every line was skipped \\(line 2: PDQ quality 12 below the floor of \\d+\\)\\n`));
  }, 30_000);
});
