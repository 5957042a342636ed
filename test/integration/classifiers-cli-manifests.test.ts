/** `abuse-scan classify` with a manifest that lacks the task's models, or is no JSON at all. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, modelPath } from '../../src/classifiers/manifest.js';
import { runCli } from '../harness/cli.js';
import { tinyImageModelsManifest } from '../harness/tiny-image-models.js';

async function manifestFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'manifest-')), 'manifest.json');
  await writeFile(path, text);
  return path;
}

describe('abuse-scan classify and its manifest', () => {
  it('image with a manifest that has no image model: exit 1 naming the manifest, not exit 0 (allow)', async () => {
    const shipped = await loadManifest();
    const urlOnly = shipped.models.filter((m) => m.task === 'url').map((m) => ({ ...m, file: modelPath(shipped, m) }));
    const manifest = await manifestFile(JSON.stringify({ schemaVersion: 1, models: urlOnly }));
    const result = await runCli(['classify', 'image', 'fixtures/images/clouds.jpg'], { env: { ABUSE_SCAN_MODELS_MANIFEST: manifest }, timeoutMs: 30_000 });
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: `abuse-scan: no model: the model manifest ${manifest} (ABUSE_SCAN_MODELS_MANIFEST) has no image model\n` });
  }, 40_000);

  it('url with a manifest that has no URL model: the same', async () => {
    const manifest = await tinyImageModelsManifest([{ id: 'tiny-mean' }]);
    const result = await runCli(['classify', 'url', 'https://www.debian.org/'], { env: { ABUSE_SCAN_MODELS_MANIFEST: manifest }, timeoutMs: 30_000 });
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: `abuse-scan: no model: the model manifest ${manifest} (ABUSE_SCAN_MODELS_MANIFEST) has no url model\n` });
  }, 40_000);

  it('a manifest that is not JSON: the error names the file and the variable, not a bare SyntaxError', async () => {
    const manifest = await manifestFile('{bad\n');
    const result = await runCli(['classify', 'image', 'fixtures/images/clouds.jpg'], { env: { ABUSE_SCAN_MODELS_MANIFEST: manifest }, timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^abuse-scan: model_integrity: invalid model manifest ${manifest} \\(ABUSE_SCAN_MODELS_MANIFEST\\): not valid JSON: .*position 1(?: \\(line 1 column 2\\))?\\n$`)); // V8 12 (Node 22+) adds the line and column
  }, 40_000);
});
