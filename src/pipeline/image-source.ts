import { constants } from 'node:fs';
import { type FileHandle, open, readlink, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ScanError } from '../errors.js';
import type { ImageItem } from '../jobs/job-schema.js';
import { isPathUnder } from '../jobs/validate-job.js';
import { readAtMost } from '../runtime/read-at-most.js';

export interface ImageSourceOptions {
  /** Directory `{ path }` items must lie under, after symlinks are resolved. Unset refuses path items. */
  imageRoot?: string | undefined;
  /**
   * Bytes read from a file or URL at most (the one cap of both: a fetch is given it). Workers and
   * the embedded scan pass ABUSE_SCAN_MAX_IMAGE_BYTES. Default DEFAULT_MAX_FILE_BYTES.
   */
  maxFileBytes?: number;
  /** Fetches `{ url }` images through the address guard with a byte cap. */
  fetchImage?: (url: string, maxBytes: number, signal: AbortSignal) => Promise<FetchedBytes>;
}

/** An image URL's bytes and where they came from. */
export interface FetchedBytes {
  bytes: Uint8Array;
  /** The URL the bytes were served from, after redirects. */
  finalUrl: string;
  /** Redirects followed to get there. */
  redirects: number;
}

/** An image item's bytes; `fetched` for a `{ url }` item: where they came from. */
export interface LoadedImage {
  bytes: Uint8Array;
  fetched?: Omit<FetchedBytes, 'bytes'>;
}

/** 20 MiB: the default of ABUSE_SCAN_MAX_IMAGE_BYTES too (src/config/config.ts). */
export const DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024;

/** The raw bytes of an image item, from whichever source it names, within the byte cap. */
export async function loadImageBytes(item: ImageItem, options: ImageSourceOptions, signal: AbortSignal): Promise<LoadedImage> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if ('bytesBase64' in item) return { bytes: Buffer.from(item.bytesBase64, 'base64') };
  if ('path' in item) return { bytes: await readUnderRoot(item.path, options.imageRoot, maxBytes) };
  if (!options.fetchImage) throw new ScanError('unsupported_item', 'image URLs are not fetched by this pipeline');
  const { bytes, finalUrl, redirects } = await options.fetchImage(item.url, maxBytes, signal);
  return { bytes, fetched: { finalUrl, redirects } };
}

async function readUnderRoot(path: string, imageRoot: string | undefined, maxBytes: number): Promise<Uint8Array> {
  if (!imageRoot) throw new ScanError('path_outside_root', 'path items need a configured image root');
  let root: string;
  let resolved: string;
  try {
    root = await realpath(imageRoot);
    // realpath follows symlinks, so a link inside the root pointing out of it is caught below.
    resolved = await realpath(resolve(imageRoot, path));
  } catch {
    throw new ScanError('path_not_found', `no file at ${path}`);
  }
  if (!isPathUnder(root, resolved)) throw new ScanError('path_outside_root', `${path} resolves outside the image root`);
  // Non-blocking: opening a FIFO for reading otherwise waits for a writer, holding a threadpool
  // thread for good. No following: a symlink swapped in since realpath is not followed out of the root.
  const handle = await open(resolved, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(() => {
    throw new ScanError('path_not_found', `cannot open ${path}`);
  });
  try {
    // O_NOFOLLOW guards the last component only: a directory on the way swapped for a symlink
    // since realpath (by anyone who can write under the root) leads out of it. So the file opened
    // is checked for where it really is.
    const opened = await openedPath(handle);
    if (opened !== undefined && !isPathUnder(root, opened)) throw new ScanError('path_outside_root', `${path} resolves outside the image root`);
    // What was opened, not what the path names now: a FIFO, device or directory is refused unread.
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ScanError('path_not_found', `${path} is not a regular file`);
    return await readAtMost(handle, stat.size, maxBytes, path);
  } finally {
    await handle.close();
  }
}

/**
 * Where an open file really is, all symlinks resolved: Linux names it at /proc/self/fd/<fd>.
 * Undefined where the system does not say (no /proc): the check before the open is all there is.
 */
async function openedPath(handle: FileHandle): Promise<string | undefined> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return undefined;
  }
}
