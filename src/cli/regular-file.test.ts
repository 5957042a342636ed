import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from './cli-errors.js';
import { MAX_IMAGE_FILE_BYTES, openRegularFile, readRegularFile } from './regular-file.js';

describe('readRegularFile (hash, hashset add; scan image checks with openRegularFile)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'read-regular-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a regular file whole', async () => {
    const file = join(dir, 'small.bin');
    writeFileSync(file, 'hello');
    expect((await readRegularFile(file)).toString()).toBe('hello');
    writeFileSync(join(dir, 'empty.bin'), '');
    expect(await readRegularFile(join(dir, 'empty.bin'))).toHaveLength(0);
  });

  it('refuses a FIFO at once, unread, instead of waiting for a writer for ever', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    await expect(readRegularFile(fifo)).rejects.toEqual(new CliError('not a regular file', fifo));
    await expect(openRegularFile(fifo)).rejects.toMatchObject({ reason: 'not a regular file', message: fifo });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a device (/dev/zero would be read without end) and a directory, naming them', async () => {
    await expect(readRegularFile('/dev/zero')).rejects.toMatchObject({ reason: 'not a regular file', message: '/dev/zero' });
    await expect(readRegularFile(dir)).rejects.toMatchObject({ reason: 'is a directory', message: dir });
  });

  it('refuses a file over the cap (50 MiB by default) without reading it: payload_too_large', async () => {
    const big = join(dir, 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, MAX_IMAGE_FILE_BYTES + 1); // sparse: nothing written
    expect(MAX_IMAGE_FILE_BYTES).toBe(50 * 1024 * 1024);
    await expect(readRegularFile(big)).rejects.toMatchObject({ code: 'payload_too_large' });
    const file = join(dir, 'ten.bin');
    writeFileSync(file, '0123456789');
    await expect(readRegularFile(file, 9)).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(await readRegularFile(file, 10)).toHaveLength(10);
  });

  it('passes a missing file on as open reports it, with its path', async () => {
    await expect(readRegularFile(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOENT', path: join(dir, 'nope') });
  });
});
