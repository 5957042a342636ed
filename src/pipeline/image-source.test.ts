import { execFileSync, spawn } from 'node:child_process';
import { constants, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { loadImageBytes } from './image-source.js';

const root = mkdtempSync(join(tmpdir(), 'image-source-'));
const fifo = join(root, 'fifo.png');
execFileSync('mkfifo', [fifo]);
writeFileSync(join(root, 'ok.png'), Buffer.from('not really a png'));
mkdirSync(join(root, 'dir'));
symlinkSync(fifo, join(root, 'link-to-fifo.png'));

afterAll(() => {
  // A reader still blocked in open() (the bug) is let go by a writer coming and going.
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // No reader waiting: nothing to release.
  }
  rmSync(root, { recursive: true, force: true });
});

/** Settles within `ms` with the load's error, or fails: a load left hanging fails the test, not the run. */
async function loadError(path: string, maxFileBytes?: number, ms = 2000): Promise<ScanError> {
  const load = loadImageBytes({ path }, { imageRoot: root, ...(maxFileBytes !== undefined && { maxFileBytes }) }, new AbortController().signal);
  const outcome = await Promise.race([
    load.then(
      () => new Error('loaded'),
      (error: unknown) => error,
    ),
    new Promise<Error>((settle) => setTimeout(() => settle(new Error(`still pending after ${ms} ms`)), ms).unref()),
  ]);
  expect(outcome).toBeInstanceOf(ScanError);
  return outcome as ScanError;
}

describe('loadImageBytes from a path under the image root', () => {
  it('never reads a file outside the root while a directory on the way is swapped for a symlink out of it', async () => {
    // root/sub/a.png inside, outside/a.png outside, root/sublink -> ../outside; a child process
    // swaps sub and sublink back and forth while the file is loaded over and over.
    const base = mkdtempSync(join(tmpdir(), 'image-source-race-'));
    const raceRoot = join(base, 'root');
    mkdirSync(join(raceRoot, 'sub'), { recursive: true });
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(raceRoot, 'sub', 'a.png'), 'inside');
    writeFileSync(join(base, 'outside', 'a.png'), 'outside');
    symlinkSync('../outside', join(raceRoot, 'sublink'));
    const swapper = spawn(process.execPath, [
      '-e',
      `const { renameSync } = require('node:fs'); const r = ${JSON.stringify(raceRoot + '/')};
       for (;;) { renameSync(r + 'sub', r + 'subdir'); renameSync(r + 'sublink', r + 'sub'); renameSync(r + 'sub', r + 'sublink'); renameSync(r + 'subdir', r + 'sub'); }`,
    ]);
    const outcomes = new Map<string, number>();
    try {
      const until = performance.now() + 1500;
      while (performance.now() < until) {
        const outcome = await loadImageBytes({ path: 'sub/a.png' }, { imageRoot: raceRoot }, new AbortController().signal).then(
          ({ bytes }) => Buffer.from(bytes).toString(),
          (error: unknown) => (error as ScanError).code,
        );
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    } finally {
      swapper.kill('SIGKILL');
      rmSync(base, { recursive: true, force: true });
    }
    expect(outcomes.get('outside')).toBeUndefined();
    expect([...outcomes.keys()].every((outcome) => ['inside', 'path_outside_root', 'path_not_found'].includes(outcome))).toBe(true);
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
  });

  it('refuses a FIFO at once with path_not_found, without waiting for a writer', async () => {
    const started = performance.now();
    expect((await loadError('fifo.png')).code).toBe('path_not_found');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses a symlink to a FIFO, a directory, and a missing file the same way', async () => {
    for (const path of ['link-to-fifo.png', 'dir', 'missing.png']) expect((await loadError(path)).code).toBe('path_not_found');
  });

  it('reads a regular file, and refuses one over the byte cap', async () => {
    const { bytes } = await loadImageBytes({ path: 'ok.png' }, { imageRoot: root }, new AbortController().signal);
    expect(Buffer.from(bytes).toString()).toBe('not really a png');
    expect((await loadError('ok.png', 4)).code).toBe('payload_too_large');
  });
});
