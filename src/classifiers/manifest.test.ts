import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ScanError } from '../errors.js';
import { createUrlModelSignalType } from '../signals/url-model/index.js';
import { targetOf } from '../../test/harness/link-targets.js';
import { defaultModelsDir, loadManifest, modelContentVersion, readVerifiedModel, type ModelEntry } from './manifest.js';
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

  // A worker logs a start-up error's message as is: a bare ENOENT named neither the setting nor the manifest.
  it('a missing manifest: the message names ABUSE_SCAN_MODELS_MANIFEST; the errno fields stay (CLI: `file not found`)', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'models-')), 'gone.json');
    vi.stubEnv('ABUSE_SCAN_MODELS_MANIFEST', path);
    try {
      await expect(loadManifest(path)).rejects.toMatchObject({
        code: 'ENOENT',
        syscall: 'open',
        path,
        message: `cannot read model manifest ${path} (ABUSE_SCAN_MODELS_MANIFEST): ENOENT: no such file or directory, open '${path}'`,
      });
    } finally {
      vi.unstubAllEnvs();
    }
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
      const acme = classifiers.manifest.models.find((m) => m.id === 'acme-url-strict')!;
      expect(classifiers.versions()).toMatchObject({ 'acme-url-strict': modelContentVersion(acme) });
      expect(modelContentVersion(acme)).toMatch(/^7\+[0-9a-f]{12}$/);
      const scores = await Promise.all(classifiers.url.map((c) => c.classifyUrl('https://www.debian.org/')));
      expect(scores.map((s) => s.model)).toEqual(['url-lexical-logreg', 'acme-url-strict']);
      expect(scores[0]!.abuseScore).toBeCloseTo(scores[1]!.abuseScore, 6);
    } finally {
      await classifiers.close();
    }
  });

  describe('the recorded version (modelContentVersion)', () => {
    const shipped = async () => (await loadManifest()).models.find((m) => m.id === 'nsfw-mobilenet-v2')!;

    it("is the manifest's version and 12 hex digits of what decides a score", async () => {
      const entry = await shipped();
      expect(modelContentVersion(entry)).toMatch(new RegExp(`^${entry.version.replace(/\./g, '\\.')}\\+[0-9a-f]{12}$`));
      expect(modelContentVersion({ ...entry })).toBe(modelContentVersion(entry));
    });

    // A copy with lowered thresholds (or a new file) under the same `version` turned allow into
    // review while verdicts recorded the very same version.
    it.each<[string, (entry: ModelEntry) => ModelEntry]>([
      ['thresholds', (e) => ({ ...e, thresholds: { review: 0.2, block: 0.3 } })],
      ['the file (sha256)', (e) => ({ ...e, sha256: 'f'.repeat(64) })],
      ['abuse score weights', (e) => ({ ...e, abuseScore: { kind: 'weighted-sum', weights: { ...e.abuseScore.weights, Sexy: 1 } } })],
      ['the label order', (e) => ({ ...e, labels: [...e.labels].reverse() })],
      ['the input', (e) => ({ ...e, input: { ...e.input, name: 'pixels' } })],
      ['the output', (e) => ({ ...e, output: { ...e.output, activation: 'softmax' } })],
    ])('changes with %s under the same manifest version', async (_case, edit) => {
      const entry = await shipped();
      const changed = modelContentVersion(edit(entry));
      expect(changed).not.toBe(modelContentVersion(entry));
      expect(changed.startsWith(`${entry.version}+`)).toBe(true);
    });

    it('does not change with provenance, the file path or key order (none decides a score)', async () => {
      const entry = await shipped();
      const reverseKeys = (value: unknown): unknown =>
        Array.isArray(value) ? value.map(reverseKeys) : value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)])) : value;
      const reordered = reverseKeys(entry) as ModelEntry;
      expect(Object.keys(reordered)).not.toEqual(Object.keys(entry));
      expect(modelContentVersion({ ...entry, provenance: { ...entry.provenance, notes: 'rebuilt on another machine', build: 'other' } })).toBe(modelContentVersion(entry));
      expect(modelContentVersion({ ...entry, file: '/elsewhere/model.onnx' })).toBe(modelContentVersion(entry));
      expect(modelContentVersion({ ...entry, thresholds: { block: entry.thresholds.block, review: entry.thresholds.review } })).toBe(modelContentVersion(entry));
      expect(modelContentVersion(reordered)).toBe(modelContentVersion(entry));
    });

    it("is what the classifier, its scores, versions.models and the signal's evidence record, with the thresholds that decided", async () => {
      const dir = await copyOfModels();
      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { models: Array<Record<string, unknown>> };
      // The same model and version twice, one with an operator's lower thresholds.
      manifest.models.push({ ...manifest.models[1]!, id: 'url-lowered', thresholds: { review: 0.2, block: 0.3 } });
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const classifiers = await openClassifiers({ manifestPath: join(dir, 'manifest.json'), tasks: ['url'] });
      try {
        const [shippedUrl, lowered] = classifiers.url;
        expect(lowered!.entry.version).toBe(shippedUrl!.entry.version);
        expect(lowered!.version).not.toBe(shippedUrl!.version);
        expect(classifiers.versions()).toEqual({ [shippedUrl!.id]: shippedUrl!.version, 'url-lowered': lowered!.version });
        const score = await lowered!.classifyUrl('https://www.debian.org/');
        expect(score).toMatchObject({ version: lowered!.version, thresholds: { review: 0.2, block: 0.3 } });
        const type = createUrlModelSignalType([lowered!], { emit: 'all' });
        const [signal] = await type.match({ input: 'https://www.debian.org/', targets: [targetOf('https://www.debian.org/')] }, 0);
        expect(signal!.evidence).toMatchObject({ model: 'url-lowered', version: lowered!.version, thresholds: { review: 0.2, block: 0.3 } });
        expect(type.versions()).toEqual({ models: { 'url-lowered': lowered!.version } });
      } finally {
        await classifiers.close();
      }
    });
  });
});
