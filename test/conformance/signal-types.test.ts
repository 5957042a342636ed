/**
 * Every signal type the pipeline registers must pass this suite: a new list, hash or model plugs
 * in by implementing the contract of src/signals/signal-type.ts, and this is what the contract
 * means in practice. The pipeline is built as the embedded scan builds it, with the demo lists
 * and hash sets under fixtures/ and the shipped models, so every signal type is present.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { ItemKind } from '../../src/jobs/job-schema.js';
import { signalSchema } from '../../src/jobs/verdict-schema.js';
import { createScanPipeline } from '../../src/pipeline/create-pipeline.js';
import { ImagePreparer } from '../../src/pipeline/image-preparer.js';
import { LinkPreparer } from '../../src/pipeline/link-preparer.js';
import type { ScanPipeline } from '../../src/pipeline/scan-pipeline.js';
import { createLogger } from '../../src/runtime/logger.js';
import type { MatchContext } from '../../src/signals/signal-type.js';
import { REPO_ROOT } from '../harness/fleet.js';

const context: MatchContext = { jobId: 'conformance-1', contentId: 'conformance', surface: 'test' };

describe('signal-type conformance', () => {
  let pipeline: ScanPipeline;
  const subjects: Record<ItemKind, unknown[]> = { link: [], image: [] };

  beforeAll(async () => {
    const config = loadConfig({
      ABUSE_SCAN_UNFURL: 'off',
      ABUSE_SCAN_LISTS_DIR: `${REPO_ROOT}fixtures/lists`,
      ABUSE_SCAN_HASHSETS_DIR: `${REPO_ROOT}fixtures/hashsets`,
    });
    pipeline = await createScanPipeline(config, { logger: createLogger('silent') });
    const links = new LinkPreparer({ unfurl: false });
    for (const url of ['https://phish.example.com/login/index.html?u=1', 'http://good.example.org/', 'http://1.2.3.4/a/b']) {
      subjects.link.push((await links.prepare(url)).subject);
    }
    const images = new ImagePreparer({ source: {} });
    for (const file of ['clouds--rot90.jpg', 'rings.jpg']) {
      const bytesBase64 = (await readFile(`${REPO_ROOT}fixtures/images/${file}`)).toString('base64');
      subjects.image.push((await images.prepare({ bytesBase64 }, 0, new AbortController().signal)).subject);
    }
  }, 60_000);

  afterAll(async () => {
    await pipeline?.close();
  });

  it('the embedded pipeline registers every kind of signal type', () => {
    expect(pipeline.signalTypes().map((type) => type.name).sort()).toEqual(['hashset-match', 'image-model', 'link-blocklist', 'url-model']);
  });

  it('names are unique kebab-case and each type reads links or images', () => {
    const names = pipeline.signalTypes().map((type) => type.name);
    expect(new Set(names).size).toBe(names.length);
    for (const type of pipeline.signalTypes()) {
      expect(type.name).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(['link', 'image']).toContain(type.accepts);
    }
  });

  it('versions name each list, hash set or model consulted with a string version', () => {
    for (const type of pipeline.signalTypes()) {
      const versions = type.versions();
      for (const key of Object.keys(versions)) expect(['lists', 'hashSets', 'models']).toContain(key);
      for (const table of Object.values(versions)) {
        for (const [name, version] of Object.entries(table ?? {})) {
          expect(name.length).toBeGreaterThan(0);
          expect(typeof version).toBe('string');
        }
      }
    }
  });

  it('match returns schema-valid signals for the item it was given, with evidence, and is repeatable', async () => {
    let fired = 0;
    for (const type of pipeline.signalTypes()) {
      for (const [index, subject] of subjects[type.accepts].entries()) {
        const itemIndex = index + 3;
        const first = await type.match(subject, itemIndex, context);
        for (const signal of first) {
          expect(signalSchema.parse(signal)).toEqual(signal);
          expect(signal.item).toBe(itemIndex);
          expect(signal.source.length).toBeGreaterThan(0);
          expect(Object.keys(signal.evidence).length).toBeGreaterThan(0);
          fired++;
        }
        const again = await type.match(subject, itemIndex, context);
        expect(again.map((s) => [s.source, s.kind, s.suggests])).toEqual(first.map((s) => [s.source, s.kind, s.suggests]));
      }
    }
    // The demo blocklist and hash set make at least their two types fire.
    expect(fired).toBeGreaterThanOrEqual(2);
  });

  it('a fired link-blocklist and hash-set signal names its entry', async () => {
    const byName = new Map(pipeline.signalTypes().map((type) => [type.name, type]));
    const [blocked] = await byName.get('link-blocklist')!.match(subjects.link[0], 0, context);
    expect(blocked).toMatchObject({ source: 'blocklist', suggests: 'block', evidence: { list: 'demo-blocklist', entry: 'phish.example.com/login/' } });
    const [known] = await byName.get('hashset-match')!.match(subjects.image[0], 0, context);
    expect(known).toMatchObject({ source: 'hashset', kind: 'pdq_match', evidence: { set: 'demo-known-bad', entryId: 'clouds', variant: 'rotate90' } });
  });
});
