import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, hashImage, type ImageHashes } from '../../src/images/index.js';
import type { ImageSubject } from '../../src/pipeline/image-preparer.js';
import type { Verdict } from '../../src/jobs/verdict-schema.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { fileURLToPath } from 'node:url';

/** A deterministic 256-bit hash from a seed, with `flips` leading bits inverted (to place it at a known distance). */
export function seededHash(seed: number, flips = 0): Uint8Array {
  const bytes = new Uint8Array(32);
  let x = seed * 2654435761;
  for (let i = 0; i < 32; i++) bytes[i] = (x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i) >>> 0) & 0xff;
  for (let bit = 0; bit < flips; bit++) bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
  return bytes;
}

/**
 * An image subject made of hashed frames only, as signal types read it: frame i is the file's
 * frame i (a still image when there is one). For tests that place hashes without decoding.
 */
export function subjectOfFrames(frames: ImageHashes[]): ImageSubject {
  const decoded = { frameCount: frames.length, frames: frames.map((_, index) => ({ index })) } as unknown as ImageSubject['decoded'];
  return { decoded, frames };
}

/** The fixture images under fixtures/images. */
export const FIXTURE_IMAGES = fileURLToPath(new URL('../../fixtures/images/', import.meta.url));

/** Both perceptual hashes of a fixture image, decoded the way workers decode it. */
export async function fixtureHashes(file: string) {
  return hashImage(await decodeImage(readFileSync(join(FIXTURE_IMAGES, file))));
}

/** Scans one fixture image as a `{ path }` item under the fixtures root, each call a new job. */
export function fixtureScanner(pipeline: () => ScanPipeline, jobPrefix: string): (file: string) => Promise<Verdict> {
  let scans = 0;
  return (file) => {
    const job = validateJob({ contentId: file, surface: 'upload', items: [{ path: join(FIXTURE_IMAGES, file) }] }, { imageRoot: FIXTURE_IMAGES });
    return pipeline().scan(job, { jobId: `${jobPrefix}-${scans++}`, attempt: 1, finalAttempt: true });
  };
}
