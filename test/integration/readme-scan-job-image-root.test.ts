/**
 * README, Trust engineers' commands: `abuse-scan scan job` scans "a whole job, as producers send
 * it". With ABUSE_SCAN_IMAGE_ROOT set, its `{ path }` items are judged as a worker of that root
 * judges them: a path outside the root (absolute, `..`, or a symlink leading out) is
 * `path_outside_root` and is not read. Without it, paths are read as given.
 */
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { REPO_ROOT } from '../harness/fleet.js';

const OFFLINE = { ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
const RINGS = join(REPO_ROOT, 'fixtures/images/rings.jpg');

describe('abuse-scan scan job and ABUSE_SCAN_IMAGE_ROOT', () => {
  let dir: string;
  let root: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-job-root-'));
    root = join(dir, 'root');
    await mkdir(root);
    await copyFile(RINGS, join(root, 'inside.jpg'));
    await copyFile(RINGS, join(dir, 'outside.jpg'));
    await symlink(join(dir, 'outside.jpg'), join(root, 'link-out.jpg'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const scanJob = async (path: string, env: Record<string, string>) => {
    const job = JSON.stringify({ contentId: 'j1', surface: 'upload', items: [{ path }] });
    const { code, stdout, stderr } = await runCli(['scan', 'job', '--json', '-'], { stdin: job, env: { ...OFFLINE, ...env } });
    // Only the note that no hash set was consulted (no ABUSE_SCAN_HASHSETS_DIR): scan-cli.test.ts.
    expect(stderr).toMatch(/^abuse-scan: note: no hash sets consulted: [^\n]*\n$/);
    return { code, verdict: JSON.parse(stdout) as { decision: string; errors: Array<{ code: string }> } };
  };

  it('reads a path under the root, relative or absolute', async () => {
    for (const path of ['inside.jpg', join(root, 'inside.jpg')]) {
      const { code, verdict } = await scanJob(path, { ABUSE_SCAN_IMAGE_ROOT: root });
      expect(verdict, path).toMatchObject({ decision: 'allow', errors: [] });
      expect(code).toBe(0);
    }
  }, 30_000);

  it.each([
    ['an absolute path elsewhere', '/etc/passwd'],
    ['a path that climbs out', '../outside.jpg'],
    ['a symlink in the root that leads out', 'link-out.jpg'],
  ])('refuses %s with path_outside_root, as workers do', async (_what, path) => {
    const { code, verdict } = await scanJob(path, { ABUSE_SCAN_IMAGE_ROOT: root });
    expect(verdict.errors.map((error) => error.code)).toEqual(['path_outside_root']);
    expect(verdict.decision).toBe('review');
    expect(code).toBe(2);
  }, 30_000);

  it('refuses a root that does not exist, as a worker does, instead of reporting path_not_found', async () => {
    const missing = join(dir, 'not-mounted');
    const job = JSON.stringify({ contentId: 'j1', surface: 'upload', items: [{ path: 'inside.jpg' }] });
    const result = await runCli(['scan', 'job', '--json', '-'], { stdin: job, env: { ...OFFLINE, ABUSE_SCAN_IMAGE_ROOT: missing } });
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: `abuse-scan: invalid configuration: ABUSE_SCAN_IMAGE_ROOT: ${missing} does not exist\n`,
    });
  }, 30_000);

  it('without ABUSE_SCAN_IMAGE_ROOT reads a path as given, wherever it is', async () => {
    const { verdict } = await scanJob(join(dir, 'outside.jpg'), {});
    expect(verdict).toMatchObject({ decision: 'allow', errors: [] });
  }, 30_000);
});
