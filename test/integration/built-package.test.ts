import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/fleet.js';

const run = promisify(execFile);

/** `node bin/abuse-scan.js <args>`: the compiled package, as README's first command runs it. */
async function builtCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, ['bin/abuse-scan.js', ...args], { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'silent', ...env } });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '' };
  }
}

/**
 * dist/, built once for the run (test/harness/build-once.ts) with `npm run build`'s compiler
 * settings: README's main job, and classifier worker threads started from the emitted .js files
 * instead of a tsx bootstrap.
 */
describe('the built package', () => {
  it("runs README's main job: BLOCK for a rotated copy of a known-bad image, ALLOW for another, exit 3", async () => {
    const { code, stdout } = await builtCli(['scan', 'image', 'fixtures/images/clouds--rot90.jpg', 'fixtures/images/rings.jpg', '--json'], { ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets' });
    const [rotated, other] = stdout.trim().split('\n').map((line) => JSON.parse(line) as { decision: string; signals: Array<{ evidence: Record<string, unknown> }> });
    expect(rotated!.decision).toBe('block');
    expect(rotated!.signals[0]!.evidence).toMatchObject({ set: 'demo-known-bad', variant: 'rotate90' });
    expect(other!.decision).toBe('allow');
    expect(code).toBe(3);
  }, 60_000);

  it('loads by its name with import and with require (a CommonJS producer compiled by TypeScript emits require)', async () => {
    const printExports = "console.log(typeof m.createScanClient, typeof m.isScanError)";
    const imported = await run(process.execPath, ['--input-type=module', '-e', `const m = await import('abuse-scan'); ${printExports}`], { cwd: REPO_ROOT });
    const required = await run(process.execPath, ['-e', `const m = require('abuse-scan'); ${printExports}`], { cwd: REPO_ROOT });
    expect(imported.stdout).toBe('function function\n');
    expect(required.stdout).toBe('function function\n');
  }, 60_000);

  it('scores an image with the ONNX model in a worker thread started from dist/', async () => {
    const { code, stdout } = await builtCli(['classify', 'image', 'fixtures/images/rings.jpg', '--json']);
    const result = JSON.parse(stdout) as { scores: Array<{ model: string; labels: Record<string, number> }> };
    expect(code).toBe(0);
    expect(result.scores[0]!.model).toBe('nsfw-mobilenet-v2');
    const total = Object.values(result.scores[0]!.labels).reduce((sum, p) => sum + p, 0);
    expect(total).toBeCloseTo(1, 3);
  }, 60_000);
});

describe('the published package', () => {
  it("ships its license and the models' third-party notices (the nsfwjs weights' MIT notice must travel with every copy)", async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'models/THIRD_PARTY_NOTICES.md', 'models/manifest.json']));
    expect(files.filter((file) => /^(test|fixtures|bench|src)\//.test(file) || file.endsWith('.test.js'))).toEqual([]);
    expect(await readFile(path.join(REPO_ROOT, 'models/THIRD_PARTY_NOTICES.md'), 'utf8')).toContain('Copyright (c) 2019 Infinite Red, Inc.');
  }, 60_000);
});

/** The paths the Dockerfile's build stage copies into the image before `npm run build`. */
async function dockerBuildContext(): Promise<string[]> {
  const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const buildStage = dockerfile.split(/^FROM /m)[1] ?? '';
  return [...buildStage.matchAll(/^COPY (?!--from)(.+?) \S+$/gm)].flatMap((match) => match[1]!.split(/\s+/));
}

describe('the container build', () => {
  it('compiles only files the Dockerfile copies, and ships no tests', async () => {
    const { stdout } = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--listFilesOnly'], { cwd: REPO_ROOT });
    const projectFiles = stdout
      .trim()
      .split('\n')
      .map((file) => path.relative(REPO_ROOT, file))
      .filter((file) => !file.startsWith('node_modules'));
    const copied = await dockerBuildContext();
    expect(copied).toEqual(expect.arrayContaining(['src', 'workers', 'tsconfig.build.json']));
    expect(projectFiles.length).toBeGreaterThan(50);
    expect(projectFiles.filter((file) => !copied.some((entry) => file === entry || file.startsWith(`${entry}/`)))).toEqual([]);
    expect(projectFiles.filter((file) => file.endsWith('.test.ts'))).toEqual([]);
  }, 30_000);
});
