import type { FileHandle } from 'node:fs/promises';
import { ScanError } from '../errors.js';

/**
 * An open file's bytes: `expected` of them (its size when opened) unless it changed since, and
 * never more than `maxBytes`: a file over the cap, or one that grows past it while read, is
 * `payload_too_large` (naming `path`), with no more than `maxBytes` + 1 bytes ever held.
 */
export async function readAtMost(handle: FileHandle, expected: number, maxBytes: number, path: string): Promise<Buffer> {
  if (expected > maxBytes) throw new ScanError('payload_too_large', `${path} has ${expected} bytes, more than ${maxBytes}`);
  // One byte past what is expected shows whether the file grew.
  let buffer = Buffer.allocUnsafe(expected + 1);
  let length = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) return buffer.subarray(0, length);
    length += bytesRead;
    if (length > maxBytes) throw new ScanError('payload_too_large', `${path} has more than ${maxBytes} bytes`);
    if (length === buffer.length) buffer = Buffer.concat([buffer, Buffer.allocUnsafe(Math.min(buffer.length, maxBytes + 1 - length))]);
  }
}
