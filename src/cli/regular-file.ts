import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DEFAULT_DECODE_OPTIONS } from '../images/decode-options.js';
import { readAtMost } from '../runtime/read-at-most.js';
import { CliError } from './cli-errors.js';

/** Most bytes `hash` and `hashset add` read of an image file: the largest input the decoder takes (50 MiB). */
export const MAX_IMAGE_FILE_BYTES = DEFAULT_DECODE_OPTIONS.maxInputBytes;

/**
 * Opens a file the operator named for reading, and only a regular file: a directory is `is a
 * directory`, anything else (a FIFO, a device such as /dev/zero, a socket) `not a regular file`,
 * each a CliError naming the path, refused unread. Opened without blocking, so a FIFO with no
 * writer cannot hold the command for ever, and checked as opened, so nothing swapped in after the
 * check is read. A missing or unreadable file throws open's own error (ENOENT, EACCES, with its path).
 * The caller closes the handle.
 */
export async function openRegularFile(file: string): Promise<{ handle: FileHandle; size: number }> {
  const handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new CliError('is a directory', file);
    if (!info.isFile()) throw new CliError('not a regular file', file);
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * The bytes of a regular file (see openRegularFile), at most `maxBytes` (default
 * MAX_IMAGE_FILE_BYTES): a larger file, or one that grows past it while read, is
 * `payload_too_large`, with no more than `maxBytes` + 1 bytes ever held.
 */
export async function readRegularFile(file: string, maxBytes = MAX_IMAGE_FILE_BYTES): Promise<Buffer> {
  const { handle, size } = await openRegularFile(file);
  try {
    return await readAtMost(handle, size, maxBytes, file);
  } finally {
    await handle.close();
  }
}
