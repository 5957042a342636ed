import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { readAtMost } from './read-at-most.js';

/** A file handle over `bytes`, which may be more than the size the file was opened with (it grew). */
function handleOver(bytes: Buffer): FileHandle {
  return {
    read: async (buffer: Buffer, offset: number, length: number, position: number) => {
      const bytesRead = bytes.copy(buffer, offset, position, Math.min(bytes.length, position + length));
      return { bytesRead, buffer };
    },
  } as unknown as FileHandle;
}

describe('readAtMost', () => {
  it('reads a file of the size it was opened with', async () => {
    expect(await readAtMost(handleOver(Buffer.from('0123456789')), 10, 15, 'f')).toEqual(Buffer.from('0123456789'));
  });

  it('reads what a file that grew within the cap holds now', async () => {
    expect(await readAtMost(handleOver(Buffer.from('0123456789abc')), 10, 15, 'f')).toEqual(Buffer.from('0123456789abc'));
  });

  it('refuses a file that grows past the cap while read (payload_too_large), never a silently cut copy', async () => {
    const error = await readAtMost(handleOver(Buffer.alloc(20)), 10, 15, 'f').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScanError);
    expect(error).toMatchObject({ code: 'payload_too_large', message: 'f has more than 15 bytes' });
  });

  it('refuses a file over the cap when opened, before reading', async () => {
    await expect(readAtMost(handleOver(Buffer.alloc(20)), 20, 15, 'f')).rejects.toMatchObject({ code: 'payload_too_large' });
  });
});
