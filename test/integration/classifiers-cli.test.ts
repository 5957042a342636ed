/** `abuse-scan classify image|url`, run as the CLI from the TypeScript sources. */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/fleet.js';

const run = promisify(execFile);

async function cli(...args: string[]): Promise<{ stdout: string; code: number }> {
  try {
    const { stdout } = await run(process.execPath, ['bin/abuse-scan.js', ...args], { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } });
    return { stdout, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; code: number };
    return { stdout: failed.stdout, code: failed.code };
  }
}

describe('abuse-scan classify', () => {
  it('scores URLs, one JSON line each, and exits by the strictest suggestion', async () => {
    const { stdout, code } = await cli('classify', 'url', 'https://www.debian.org/', 'http://paypal.com.secure-login.verify-account.xyz/signin', '--json');
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { input: string; scores: Array<{ model: string; suggests: string; abuseScore: number }> });
    expect(lines.map((l) => l.input)).toEqual(['https://www.debian.org/', 'http://paypal.com.secure-login.verify-account.xyz/signin']);
    expect(lines[0]!.scores[0]).toMatchObject({ model: 'url-lexical-logreg', suggests: 'allow' });
    expect(lines[1]!.scores[0]!.abuseScore).toBeGreaterThan(0.9);
    expect(code).toBe(lines[1]!.scores[0]!.suggests === 'block' ? 3 : 2);
  }, 30_000);

  it('refuses text that is not a URL a browser could visit with invalid_url instead of scoring it', async () => {
    const { stdout, code } = await cli('classify', 'url', 'not a url at all', '--json');
    expect(JSON.parse(stdout)).toEqual({ input: 'not a url at all', scores: [], error: { code: 'invalid_url', message: '"not a url at all" is not a URL a browser could visit' } });
    expect(code).toBe(1);
  }, 30_000);

  it('scores image files with the label probabilities, and reports unreadable ones', async () => {
    const { stdout, code } = await cli('classify', 'image', 'fixtures/images/clouds.jpg', 'fixtures/images/no-such.jpg');
    expect(stdout).toMatch(/fixtures\/images\/clouds\.jpg\n {2}allow +0\.\d{4} {2}nsfw-mobilenet-v2@\S+ {2}\(Drawing [\d.]+, Hentai [\d.]+, Neutral [\d.]+, Porn [\d.]+, Sexy [\d.]+\)/);
    expect(stdout).toMatch(/no-such\.jpg\n {2}error path_not_found/);
    expect(code).toBe(1);
  }, 30_000);

  it('refuses a FIFO, a device or a directory unread, as path_not_found (a FIFO held the command for ever, /dev/zero filled memory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'classify-'));
    const fifo = join(dir, 'fifo.jpg');
    execFileSync('mkfifo', [fifo]);
    const { stdout, code } = await cli('classify', 'image', fifo, '/dev/zero', dir, '--json');
    expect(stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { input: fifo, scores: [], error: { code: 'path_not_found', message: `${fifo}: not a regular file` } },
      { input: '/dev/zero', scores: [], error: { code: 'path_not_found', message: '/dev/zero: not a regular file' } },
      { input: dir, scores: [], error: { code: 'path_not_found', message: `${dir}: is a directory` } },
    ]);
    expect(code).toBe(1);
  }, 30_000);
});
