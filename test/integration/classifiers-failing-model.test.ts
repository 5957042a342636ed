/**
 * Two image models, one of which fails on every real image: the embedded scan keeps the other
 * model's signal and records the failure as a partial error of the failing model's signal type.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { tinyImageModelsManifest } from '../harness/tiny-image-models.js';

describe('an image model that fails at run time', () => {
  it('costs only its own signal: the other model still fires, the failure is a partial error naming the model', async () => {
    const manifest = await tinyImageModelsManifest([
      { id: 'tiny-mean', thresholds: { review: 0, block: 1 } },
      { id: 'tiny-fails', kind: 'fails-on-images' },
    ]);
    const env = { ABUSE_SCAN_MODELS_MANIFEST: manifest, ABUSE_SCAN_MODEL_THREADS: '1', ABUSE_SCAN_UNFURL: 'off', REDIS_URL: 'redis://127.0.0.1:1' };
    const { code, stdout, stderr } = await runCli(['scan', 'image', 'fixtures/images/clouds.jpg', '--json'], { env, timeoutMs: 60_000 });
    expect(stderr).not.toMatch(/Segmentation|terminate called/);
    const verdict = JSON.parse(stdout) as { signals: Array<{ kind: string; evidence: { model: string } }>; errors: Array<Record<string, unknown>>; items: Array<{ details: Record<string, unknown> }> };
    expect(verdict.signals.filter((s) => s.kind === 'image_model').map((s) => s.evidence.model)).toEqual(['tiny-mean']);
    expect(verdict.errors).toEqual([
      expect.objectContaining({ code: 'model_failed', partial: true, item: 0, detail: { model: 'tiny-fails', signalType: 'image-model-tiny-fails' } }),
    ]);
    expect(verdict.items[0]!.details.failedSignalTypes).toEqual(['image-model-tiny-fails']);
    expect(code).toBe(2);
  }, 70_000);
});
