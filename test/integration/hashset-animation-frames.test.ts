/**
 * An animation's frames are sampled (8 at most, spread over the file): a hash-set match must name
 * the file's frame that matched, which an analyst can open, not its place among those sampled.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { validateJob } from '../../src/jobs/validate-job.js';
import { jobLimits } from '../../src/config/config.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { FIXTURE_IMAGES } from '../harness/hashes.js';

/** 40 frames of unrelated fixtures, the last one `clouds` (an entry of fixtures/hashsets). */
async function animation(format: 'gif' | 'webp'): Promise<Buffer> {
  const others = ['rings', 'shapes', 'text-lines', 'mosaic'];
  const frames = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      sharp(`${FIXTURE_IMAGES}/${i === 39 ? 'clouds' : others[i % others.length]}.jpg`).resize(160, 120, { fit: 'fill' }).png().toBuffer(),
    ),
  );
  const joined = sharp(frames, { join: { animated: true } });
  return format === 'gif' ? joined.gif({ delay: 100 }).toBuffer() : joined.webp({ delay: 100, quality: 90 }).toBuffer();
}

describe('hash-set matches in animations', () => {
  let pipeline: ScanPipeline;
  const config = loadConfig({ ABUSE_SCAN_HASHSETS_DIR: 'fixtures/hashsets', ABUSE_SCAN_UNFURL: 'off' }, { imageRoot: '/' });

  beforeAll(async () => {
    pipeline = await createScanPipeline(config, { logger: createLogger('silent') });
  });

  afterAll(async () => {
    await pipeline?.close();
  });

  it.each(['gif', 'webp'] as const)('name the frame of the %s that matched, and which frames were hashed', async (format) => {
    const job = validateJob({ contentId: `anim-${format}`, surface: 'upload', items: [{ bytesBase64: (await animation(format)).toString('base64') }] }, { imageRoot: '/', limits: jobLimits(config) });
    const verdict = await pipeline.scan(job, { jobId: `anim-${format}`, attempt: 1, finalAttempt: true });
    expect(verdict.decision).toBe('block');
    expect(verdict.items[0]!.details).toMatchObject({ frameCount: 40, framesHashed: 8, sampledFrames: [0, 6, 11, 17, 22, 28, 33, 39] });
    const matches = verdict.signals.filter((signal) => signal.source === 'hashset');
    expect(matches.length).toBeGreaterThan(0);
    for (const signal of matches) expect(signal.evidence).toMatchObject({ entryId: 'clouds', frame: 39 });
  });
});
