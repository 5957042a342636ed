/**
 * A scan job through the queue and an in-process worker: its verdict carries the image model's
 * and the URL model's signals, and the verdict's versions name both models.
 *
 * The fixtures hold no abusive image, so the worker reads a manifest (modelsManifest, ABUSE_SCAN_MODELS_MANIFEST)
 * whose image entry is the shipped model with an operator's review threshold of 0: every image
 * fires, which also shows thresholds come from the manifest.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScanClient, type ScanClient } from '../../src/client/scan-client.js';
import { loadManifest, modelContentVersion, modelPath, type ModelEntry } from '../../src/classifiers/manifest.js';
import { REPO_ROOT, startInProcessWorker } from '../harness/fleet.js';
import { uniquePrefix, TEST_REDIS_URL, removeTestKeys } from '../harness/redis.js';

describe('model signals in verdicts', () => {
  const prefix = uniquePrefix('classifiers');
  let client: ScanClient;
  let worker: Awaited<ReturnType<typeof startInProcessWorker>>;
  let shipped: Awaited<ReturnType<typeof loadManifest>>;
  let models: ModelEntry[];

  beforeAll(async () => {
    shipped = await loadManifest();
    models = shipped.models.map((entry) => ({
      ...entry,
      file: modelPath(shipped, entry),
      ...(entry.task === 'image' && { thresholds: { review: 0, block: 1 } }),
    }));
    const dir = await mkdtemp(join(tmpdir(), 'operator-models-'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ schemaVersion: 1, models }));
    client = createScanClient({ connection: TEST_REDIS_URL, prefix });
    // No unfurling: the links are judged on their text, without reaching the network.
    worker = await startInProcessWorker(prefix, { unfurl: 'off', modelsManifest: join(dir, 'manifest.json') });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.close();
    await removeTestKeys(prefix);
  });

  it('carries both models signals, with model, version, label scores and abuse score', async () => {
    const image = await readFile(join(REPO_ROOT, 'fixtures/images/clouds.jpg'));
    const { jobId } = await client.enqueue({
      contentId: 'models-1',
      surface: 'send',
      items: ['https://www.debian.org/', 'http://paypal.com.secure-login.verify-account.xyz/signin', { bytesBase64: image.toString('base64') }],
    });
    const verdict = await client.waitForVerdict(jobId, { timeoutMs: 20_000 });
    // The operator's entries: the image model's thresholds differ from the shipped ones, and so
    // does its recorded version, though the manifest's `version` is the same.
    const version = (id: string) => modelContentVersion(models.find((m) => m.id === id)!);
    expect(verdict.versions.models).toEqual({ 'nsfw-mobilenet-v2': version('nsfw-mobilenet-v2'), 'url-lexical-logreg': version('url-lexical-logreg') });
    expect(version('nsfw-mobilenet-v2')).not.toBe(modelContentVersion(shipped.models.find((m) => m.id === 'nsfw-mobilenet-v2')!));

    const model = verdict.signals.filter((s) => s.source === 'model');
    const imageSignal = model.find((s) => s.kind === 'image_model' && s.item === 2)!;
    expect(imageSignal).toMatchObject({ suggests: 'review', evidence: { model: 'nsfw-mobilenet-v2', version: version('nsfw-mobilenet-v2'), thresholds: { review: 0, block: 1 } } });
    expect(Object.keys(imageSignal.evidence.labels as object)).toEqual(['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    expect(imageSignal.score).toBe(imageSignal.evidence.abuseScore);

    // A score under the review threshold fires nothing: the benign link has no signal.
    expect(model.find((s) => s.kind === 'url_model' && s.item === 0)).toBeUndefined();
    const phishing = model.find((s) => s.kind === 'url_model' && s.item === 1)!;
    expect(phishing).toMatchObject({
      evidence: { model: 'url-lexical-logreg', version: version('url-lexical-logreg'), thresholds: { review: 0.9, block: 0.99 }, url: 'http://paypal.com.secure-login.verify-account.xyz/signin', hop: 0 },
    });
    expect(phishing.score).toBeGreaterThan(0.9);
    expect(phishing.suggests).not.toBe('allow');
    expect(phishing.score).toBe(phishing.evidence.abuseScore);
    // The model signals raised the decision, and the reasons say so.
    expect(verdict.decision).toBe(phishing.suggests === 'block' ? 'block' : 'review');
    expect(verdict.reasons.join('\n')).toMatch(/url_model/);
    expect(verdict.reasons.join('\n')).toMatch(/image_model/);
  });
});
