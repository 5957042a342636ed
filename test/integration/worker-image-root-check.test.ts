/**
 * ABUSE_SCAN_IMAGE_ROOT is checked when the worker starts: a root that does not exist (a typo, a
 * volume not mounted), is no directory or cannot be read used to be accepted, and every { path }
 * job then got a permanent path_not_found verdict. The worker refuses to start instead.
 */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { exitWithin, spawnWorkerProcess, waitForWorkerStart } from '../harness/fleet.js';
import { removeTestKeys, uniquePrefix } from '../harness/redis.js';

describe('a worker with ABUSE_SCAN_IMAGE_ROOT set', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-image-root-'));
  });
  afterAll(async () => {
    await chmod(join(dir, 'locked'), 0o700).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const startWith = (imageRoot: string) =>
    runCli(['worker'], { env: { ABUSE_SCAN_IMAGE_ROOT: imageRoot, ABUSE_SCAN_PREFIX: uniquePrefix('image-root'), ABUSE_SCAN_MODELS: 'off', ABUSE_SCAN_UNFURL: 'off' }, timeoutMs: 15_000 });

  it.each([
    ['missing', async () => join(dir, 'not-mounted'), 'does not exist'],
    ['a dangling symlink', async () => {
      await symlink(join(dir, 'gone'), join(dir, 'dangling'));
      return join(dir, 'dangling');
    }, 'does not exist'],
    ['a regular file', async () => {
      await writeFile(join(dir, 'file'), 'x');
      return join(dir, 'file');
    }, 'is not a directory'],
  ])('%s: refuses to start with `invalid configuration: ABUSE_SCAN_IMAGE_ROOT`', async (_what, make, problem) => {
    const root = await make();
    const result = await startWith(root);
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: `abuse-scan: invalid configuration: ABUSE_SCAN_IMAGE_ROOT: ${root} ${problem}\n`,
    });
  }, 30_000);

  // root reads any directory: there is nothing to refuse.
  it.skipIf(process.getuid?.() === 0)('a directory this process cannot read: refuses to start', async () => {
    const root = join(dir, 'locked');
    await mkdir(root);
    await chmod(root, 0o000);
    const result = await startWith(root);
    expect(result.stderr).toBe(`abuse-scan: invalid configuration: ABUSE_SCAN_IMAGE_ROOT: ${root} is not readable by this process (permission denied)\n`);
    expect(result.code).toBe(1);
  }, 30_000);

  it('a symlink to a directory (checked through its realpath): starts', async () => {
    await mkdir(join(dir, 'images'));
    await symlink(join(dir, 'images'), join(dir, 'images-link'));
    const prefix = uniquePrefix('image-root-ok');
    const worker = spawnWorkerProcess(prefix, { ABUSE_SCAN_IMAGE_ROOT: join(dir, 'images-link'), ABUSE_SCAN_MODELS: 'off' });
    try {
      await waitForWorkerStart(worker);
    } finally {
      worker.kill('SIGTERM');
    }
    try {
      expect(await exitWithin(worker, 15_000)).toEqual({ code: 0, signal: null });
    } finally {
      await removeTestKeys(prefix); // the queues' meta keys BullMQ wrote
    }
  }, 40_000);
});
