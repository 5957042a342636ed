/**
 * onnxruntime's initialisation reads the process's command line with a recursive parser, in the
 * inference thread: with Node's default worker stack, ~14 KB of arguments (a `classify` or `scan`
 * given a few hundred files) crashed the process with SIGSEGV (exit 139).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';

describe('a long command line', () => {
  it('classify with ~43 KB of arguments scores every one (no SIGSEGV in the inference thread)', async () => {
    const urls = Array.from({ length: 1800 }, () => 'https://www.debian.org/');
    const { code, stdout, stderr } = await runCli(['classify', 'url', '--json', ...urls], { timeoutMs: 60_000 });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { scores: Array<{ model: string; suggests: string }> });
    expect(lines).toHaveLength(1800);
    expect(lines.every((line) => line.scores[0]?.model === 'url-lexical-logreg' && line.scores[0].suggests === 'allow')).toBe(true);
  }, 70_000);
});
