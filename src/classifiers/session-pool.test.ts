import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { defaultModelsDir } from './manifest.js';
import { SessionPool } from './session-pool.js';
import { URL_FEATURE_DIMENSION, urlFeatures } from './url-features.js';
import { workerEntry } from './worker-entry.js';

describe('session pool', () => {
  let pool: SessionPool;

  beforeAll(async () => {
    // The URL model: small and fast, enough to exercise threads and batching.
    const modelBytes = new Uint8Array(await readFile(join(defaultModelsDir(), 'url-lexical-logreg.onnx')));
    pool = await SessionPool.start({ modelBytes, inputName: 'features', outputName: 'probabilities', sampleDims: [URL_FEATURE_DIMENSION], size: 2, intraOpThreads: 1, maxBatch: 4, lingerMs: 5 });
  });

  afterAll(async () => {
    await pool?.close();
  });

  it('stacks samples that wait together into batches of at most maxBatch, answering each its own row', async () => {
    const urls = Array.from({ length: 10 }, (_, i) => `https://host-${i}.example.com/${'a'.repeat(i)}`);
    const alone: number[][] = [];
    for (const url of urls) alone.push(Array.from(await pool.run(urlFeatures(url))));
    const before = pool.stats();
    const together = await Promise.all(urls.map((url) => pool.run(urlFeatures(url))));
    const after = pool.stats();
    expect(together.map((row) => Array.from(row))).toEqual(alone);
    expect(after.samples - before.samples).toBe(10);
    expect(after.runs - before.runs).toBeLessThanOrEqual(4);
    expect(after.largestBatch).toBe(4);
  });

  it('rejects a sample of the wrong size with model_failed', async () => {
    await expect(pool.run(new Float32Array(3))).rejects.toMatchObject({ code: 'model_failed' });
  });

  it('refuses work after close', async () => {
    const modelBytes = new Uint8Array(await readFile(join(defaultModelsDir(), 'url-lexical-logreg.onnx')));
    const short = await SessionPool.start({ modelBytes, inputName: 'features', outputName: 'probabilities', sampleDims: [URL_FEATURE_DIMENSION], size: 1 });
    await short.close();
    await expect(short.run(new Float32Array(URL_FEATURE_DIMENSION))).rejects.toMatchObject({ code: 'model_failed' });
  });

  it('close lets the batch a thread was handed finish and rejects, typed, the samples no thread started', async () => {
    const modelBytes = new Uint8Array(await readFile(join(defaultModelsDir(), 'url-lexical-logreg.onnx')));
    const single = await SessionPool.start({ modelBytes, inputName: 'features', outputName: 'probabilities', sampleDims: [URL_FEATURE_DIMENSION], size: 1, maxBatch: 1 });
    // Batches of one: the first goes to the only thread at once, the other three wait for it.
    const outcomes = ['a', 'b', 'c', 'd'].map((path) =>
      single.run(urlFeatures(`https://host.example.com/${path}`)).then(
        (row) => row.length,
        (error: unknown) => (error instanceof ScanError ? `${error.code}: ${error.message}` : String(error)),
      ),
    );
    expect(single.stats().samples).toBe(1);
    await single.close();
    expect(await Promise.all(outcomes)).toEqual([2, ...Array(3).fill('model_failed: model: the session pool closed')]);
    // Closing again is the same close.
    await single.close();
  });

  it('refuses at start, by name, an input or output the graph lacks (model_integrity)', async () => {
    const modelBytes = new Uint8Array(await readFile(join(defaultModelsDir(), 'url-lexical-logreg.onnx')));
    await expect(SessionPool.start({ modelBytes, inputName: 'features', outputName: 'nope', sampleDims: [URL_FEATURE_DIMENSION], size: 1 })).rejects.toMatchObject({
      code: 'model_integrity',
      message: expect.stringMatching(/no output 'nope' \(its outputs: .+\); refusing to load it/),
    });
    await expect(SessionPool.start({ modelBytes, inputName: 'pixels', outputName: 'nope', sampleDims: [URL_FEATURE_DIMENSION], size: 1 })).rejects.toMatchObject({
      message: expect.stringMatching(/no input 'pixels' \(its inputs: features\) and no output 'nope'/),
    });
  });
});

describe('session pool start', () => {
  it('fails with model_failed when the bytes are not a model a session can load', async () => {
    const garbage = new Uint8Array(1024).fill(7);
    await expect(SessionPool.start({ modelBytes: garbage, inputName: 'x', outputName: 'y', sampleDims: [1], size: 1 })).rejects.toMatchObject({
      code: 'model_failed',
      message: expect.stringMatching(/inference thread failed/),
    });
  });
});

describe('worker entry', () => {
  it('starts the compiled sibling .js file from dist/', () => {
    const entry = workerEntry('file:///app/dist/src/classifiers/session-pool.js', 'session-worker');
    expect(String(entry.filename)).toBe('file:///app/dist/src/classifiers/session-worker.js');
    expect(entry.options).toEqual({});
  });

  it('bootstraps tsx in the thread when run from TypeScript sources', () => {
    const entry = workerEntry(new URL('./session-pool.ts', import.meta.url).href, 'session-worker');
    expect(entry.options).toEqual({ eval: true });
    expect(String(entry.filename)).toMatch(/tsx.*register\(\).*session-worker\.ts/);
  });
});
