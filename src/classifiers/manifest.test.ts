import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { defaultModelsDir, loadManifest, readVerifiedModel } from './manifest.js';
import { openClassifiers } from './index.js';

async function copyOfModels(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'models-'));
  const source = defaultModelsDir();
  for (const file of ['manifest.json', 'url-lexical-logreg.onnx', 'nsfw-mobilenet-v2.onnx']) await copyFile(join(source, file), join(dir, file));
  return dir;
}

describe('model manifest', () => {
  it('lists both shipped models, and their files match their sha256', async () => {
    const manifest = await loadManifest();
    expect(manifest.models.map((m) => [m.id, m.task])).toEqual([
      ['nsfw-mobilenet-v2', 'image'],
      ['url-lexical-logreg', 'url'],
    ]);
    for (const entry of manifest.models) expect((await readVerifiedModel(manifest, entry)).byteLength).toBeGreaterThan(1000);
  });

  it('refuses a corrupted model file with model_integrity, naming the model and both hashes', async () => {
    const dir = await copyOfModels();
    const path = join(dir, 'url-lexical-logreg.onnx');
    const bytes = await readFile(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(path, bytes);
    const manifest = await loadManifest(join(dir, 'manifest.json'));
    const entry = manifest.models.find((m) => m.id === 'url-lexical-logreg')!;
    const error = await readVerifiedModel(manifest, entry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScanError);
    expect((error as ScanError).code).toBe('model_integrity');
    expect((error as ScanError).message).toMatch(/url-lexical-logreg.*sha256 [0-9a-f]{64}.*expects [0-9a-f]{64}; refusing to load it/);
    // Opening the classifiers refuses it too: nothing is served from a mismatched file.
    await expect(openClassifiers({ manifestPath: join(dir, 'manifest.json'), tasks: ['url'] })).rejects.toMatchObject({ code: 'model_integrity' });
  });

  it('refuses a missing model file with model_integrity', async () => {
    const dir = await copyOfModels();
    const manifest = await loadManifest(join(dir, 'manifest.json'));
    const entry = { ...manifest.models[1]!, file: 'gone.onnx' };
    await expect(readVerifiedModel(manifest, entry)).rejects.toMatchObject({ code: 'model_integrity' });
  });

  it('rejects an invalid manifest with every issue named', async () => {
    const dir = await copyOfModels();
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { models: Array<Record<string, unknown>> };
    manifest.models[0]!.abuseScore = { kind: 'weighted-sum', weights: { Gore: 1 } };
    manifest.models[1]!.sha256 = 'not-a-hash';
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(loadManifest(join(dir, 'manifest.json'))).rejects.toThrow(/models\.0\.abuseScore\.weights\.Gore: Gore is not one of the labels.*models\.1\.sha256/);
  });

  // A label names an output index: ['benign', 'malicious', 'malicious'] read the abuse score from
  // index 1 (indexOf) and reported the label's probability from index 2.
  it('refuses a label listed twice in an entry, naming it and both positions', async () => {
    const dir = await copyOfModels();
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { models: Array<Record<string, unknown>> };
    manifest.models[1]!.labels = ['benign', 'malicious', 'malicious'];
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(loadManifest(join(dir, 'manifest.json'))).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(/: models\.1\.labels\.2: label 'malicious' is listed twice \(at 1 and 2\): each output index needs its own label$/),
    });
  });

  it('rejects a manifest that is not JSON with model_integrity naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'models-'));
    await writeFile(join(dir, 'manifest.json'), '{"schemaVersion": 1,');
    await expect(loadManifest(join(dir, 'manifest.json'))).rejects.toMatchObject({
      name: 'ScanError',
      code: 'model_integrity',
      message: expect.stringMatching(new RegExp(`^invalid model manifest ${join(dir, 'manifest.json')}: not valid JSON: `)),
      detail: { path: join(dir, 'manifest.json') },
    });
  });

  it.each([
    ['an input name the graph lacks', (image: Record<string, unknown>) => (image.input = { ...(image.input as object), name: 'pixel_values' }), /no input 'pixel_values' \(its inputs: input\)/],
    ['an output name the graph lacks', (image: Record<string, unknown>) => (image.output = { name: 'scores' }), /no output 'scores' \(its outputs: probabilities\)/],
    ['fewer labels than the output has', (image: Record<string, unknown>) => (image.labels = ['Drawing', 'Hentai', 'Porn', 'Sexy']), /has 5 values per sample, the manifest lists 4 labels/],
    ['an input size the graph does not take', (image: Record<string, unknown>) => (image.input = { ...(image.input as object), width: 200 }), /a sample shaped \[224, 200, 3\].*failed/s],
  ])('refuses at load, with model_integrity, a manifest entry with %s (it would fail or mislabel every job)', async (_case, edit, message) => {
    const dir = await copyOfModels();
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { models: Array<Record<string, unknown>> };
    const image = manifest.models[0]!;
    edit(image);
    // Weights only name labels the entry keeps.
    image.abuseScore = { kind: 'weighted-sum', weights: { Porn: 1 } };
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const error = await openClassifiers({ manifestPath: join(dir, 'manifest.json'), tasks: ['image'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'model_integrity' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/nsfw-mobilenet-v2.*refusing to load it/s);
  });

  it('accepts an operator model by manifest entry alone (same file, new id and thresholds)', async () => {
    const dir = await copyOfModels();
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { models: Array<Record<string, unknown>> };
    manifest.models.push({ ...manifest.models[1]!, id: 'acme-url-strict', version: '7', thresholds: { review: 0.5, block: 0.8 } });
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const classifiers = await openClassifiers({ manifestPath: join(dir, 'manifest.json'), tasks: ['url'] });
    try {
      expect(classifiers.versions()).toMatchObject({ 'acme-url-strict': '7' });
      const scores = await Promise.all(classifiers.url.map((c) => c.classifyUrl('https://www.debian.org/')));
      expect(scores.map((s) => s.model)).toEqual(['url-lexical-logreg', 'acme-url-strict']);
      expect(scores[0]!.abuseScore).toBeCloseTo(scores[1]!.abuseScore, 6);
    } finally {
      await classifiers.close();
    }
  });
});
