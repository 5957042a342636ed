/**
 * A missing ABUSE_SCAN_MODELS_MANIFEST: the worker's start-up failure used to log a bare ENOENT,
 * naming neither the setting nor the manifest. Its message names both now, and the CLI commands
 * still report it as every missing file setting: `file not found: <path> (<variable>)`.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { uniquePrefix } from '../harness/redis.js';

const MANIFEST = '/nonexistent/abuse-scan/manifest.json';

describe('ABUSE_SCAN_MODELS_MANIFEST naming no file', () => {
  it("the worker exits 1, its `start-up failed` line naming the variable, without a stack", async () => {
    const env = { ABUSE_SCAN_MODELS_MANIFEST: MANIFEST, ABUSE_SCAN_PREFIX: uniquePrefix('missing-manifest'), ABUSE_SCAN_UNFURL: 'off', LOG_LEVEL: 'info' };
    const result = await runCli(['worker'], { env, timeoutMs: 20_000 });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; err?: Record<string, unknown> });
    const failed = lines.find((line) => line.msg === 'start-up failed');
    expect(failed?.err).toMatchObject({
      message: `cannot read model manifest ${MANIFEST} (ABUSE_SCAN_MODELS_MANIFEST): ENOENT: no such file or directory, open '${MANIFEST}'`,
      code: 'ENOENT',
      path: MANIFEST,
    });
    // A missing file is told by its message: no stack buries the line.
    expect(failed?.err).not.toHaveProperty('stack');
  }, 30_000);

  it.each([[['scan', 'url', 'http://x.example/']], [['classify', 'image', 'fixtures/images/rings.jpg']]])('%j: `file not found: <path> (ABUSE_SCAN_MODELS_MANIFEST)`, exit 1', async (args) => {
    const result = await runCli(args, { env: { ABUSE_SCAN_MODELS_MANIFEST: MANIFEST, ABUSE_SCAN_UNFURL: 'off' } });
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 1, stdout: '', stderr: `abuse-scan: file not found: ${MANIFEST} (ABUSE_SCAN_MODELS_MANIFEST)\n` });
  }, 30_000);
});
