/**
 * An image model whose output is NaN for some images (here: bright ones). NaN passed Math.min and
 * Math.max into the abuse score and compared below every threshold, so the broken output read as
 * 'allow' and no signal fired. It is an invalid output instead (`model_output_invalid`): in a
 * scan, a partial error naming the model's signal type (the other model's signal still counts);
 * in `classify`, the input's error. The code is permanent: the same image gives NaN again, so the
 * job gets its verdict on the first attempt (as `model_failed`, transient, it was retried 5 times).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runCli } from '../harness/cli.js';
import { tinyImageModelsManifest } from '../harness/tiny-image-models.js';

describe('an image model whose output is NaN for some images', () => {
  let env: Record<string, string>;
  let white: string;

  beforeAll(async () => {
    const manifest = await tinyImageModelsManifest([
      { id: 'tiny-mean', thresholds: { review: 0, block: 1 } },
      // Finite on the load check's samples and on dark images, NaN when a channel's mean passes 200.
      { id: 'tiny-nan', kind: 'nan-when-bright', thresholds: { review: 0, block: 1 } },
    ]);
    env = { ABUSE_SCAN_MODELS_MANIFEST: manifest, ABUSE_SCAN_MODEL_THREADS: '1', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
    white = join(await mkdtemp(join(tmpdir(), 'nan-output-')), 'white.png');
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toFile(white);
  });

  it('scan: a partial model_output_invalid error naming the signal type, never an allow; the other model still fires', async () => {
    const { code, stdout, stderr } = await runCli(['scan', 'image', white, 'fixtures/images/clouds.jpg', '--json'], { env, timeoutMs: 60_000 });
    expect(stderr).not.toMatch(/Segmentation|terminate called/);
    type Verdict = {
      signals: Array<{ kind: string; score: unknown; evidence: { model: string } }>;
      errors: Array<Record<string, unknown>>;
      items: Array<{ status: string; details: Record<string, unknown> }>;
    };
    const [bright, dark] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Verdict);
    expect(bright!.signals.filter((s) => s.kind === 'image_model').map((s) => s.evidence.model)).toEqual(['tiny-mean']);
    expect(bright!.errors).toEqual([
      {
        code: 'model_output_invalid',
        message: "model tiny-nan: output has NaN for label 'r'",
        partial: true,
        item: 0,
        detail: { model: 'tiny-nan', signalType: 'image-model-tiny-nan' },
      },
    ]);
    expect(bright!.items[0]).toMatchObject({ status: 'ok', details: { failedSignalTypes: ['image-model-tiny-nan'] } });
    // A dark image: both models score, finite (review thresholds of 0: both fire).
    expect(dark!.errors).toEqual([]);
    expect(dark!.signals.filter((s) => s.kind === 'image_model').map((s) => s.evidence.model)).toEqual(['tiny-mean', 'tiny-nan']);
    expect(dark!.signals.every((s) => typeof s.score === 'number' && Number.isFinite(s.score))).toBe(true);
    expect(code).toBe(2);
  }, 70_000);

  it('classify: the bright image is an error (exit 1), not an allow (exit 0)', async () => {
    const { code, stdout } = await runCli(['classify', 'image', white, '--json'], { env, timeoutMs: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ input: white, scores: [], error: { code: 'model_output_invalid', message: "model tiny-nan: output has NaN for label 'r'" } });
    expect(code).toBe(1);
  }, 70_000);

  it('a worker attempt that is not the last gives the verdict at once instead of throwing for a retry', async () => {
    const config = loadConfig(env, { imageRoot: '/' });
    const pipeline = await createScanPipeline(config, { logger: createLogger('silent') });
    try {
      const job = { schemaVersion: 1 as const, contentId: 'nan-first-attempt', surface: 'test', items: [{ path: white }] };
      const verdict = await pipeline.scan(job, { jobId: 'nan-first-attempt', attempt: 1, finalAttempt: false });
      expect(verdict.attempt).toBe(1);
      expect(verdict.errors).toEqual([expect.objectContaining({ code: 'model_output_invalid', partial: true, detail: { model: 'tiny-nan', signalType: 'image-model-tiny-nan' } })]);
    } finally {
      await pipeline.close();
    }
  }, 60_000);
});
