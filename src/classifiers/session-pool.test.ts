import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tinyImageModelsManifest, type TinyImageModel } from '../../test/harness/tiny-image-models.js';
import { ScanError } from '../errors.js';
import { openClassifiers } from './index.js';
import { defaultModelsDir } from './manifest.js';
import { OutputShapeError, SessionPool, type SessionPoolOptions } from './session-pool.js';
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

const urlModel = async () => new Uint8Array(await readFile(join(defaultModelsDir(), 'url-lexical-logreg.onnx')));
const urlPoolOptions = (modelBytes: Uint8Array): SessionPoolOptions => ({ modelBytes, inputName: 'features', outputName: 'probabilities', sampleDims: [URL_FEATURE_DIMENSION], size: 1, intraOpThreads: 1 });

/** The pool's insides, for tests that break a thread on purpose. */
const insides = (pool: SessionPool) => pool as unknown as { options: SessionPoolOptions; slots: Array<{ worker: Worker }> };

describe('session pool output dims', () => {
  const tinyModel = async (model: TinyImageModel): Promise<Uint8Array> => {
    const manifest = await tinyImageModelsManifest([model]);
    return new Uint8Array(await readFile(join(dirname(manifest), `${model.id}.onnx`)));
  };
  const tinyPool = async (model: TinyImageModel, outputLength?: number) =>
    SessionPool.start({ modelBytes: await tinyModel(model), inputName: 'input', outputName: 'probs', sampleDims: [8, 8, 3], size: 1, maxBatch: 4, ...(outputLength && { outputLength }) });
  const samples = [new Float32Array(192), new Float32Array(192).fill(30)];

  it.each([
    ['[labels, N] (transposed)', 'transposed', /model: output 'probs' has dims \[3, 2\] for a batch of 2, expected \[2, 3\]: one row of 3 values per sample, the batch first/],
    ['no batch axis', 'no-batch-axis', /model: output 'probs' has dims \[3\] for a batch of 2, expected \[2, 3\]/],
  ] as const)('refuses, for every sample of the batch, an output with %s instead of slicing it into rows', async (_case, kind, message) => {
    const pool = await tinyPool({ id: kind, kind }, 3);
    try {
      const outcomes = await Promise.allSettled(samples.map((sample) => pool.run(sample)));
      expect(pool.stats().largestBatch).toBe(2);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason as unknown;
        expect(reason).toBeInstanceOf(OutputShapeError);
        expect(reason).toMatchObject({ code: 'model_output_invalid', batch: 2, message: expect.stringMatching(message) });
      }
    } finally {
      await pool.close();
    }
  });

  it('without outputLength still requires the batch first, and with it the width of a row', async () => {
    const transposed = await tinyPool({ id: 't', kind: 'transposed' });
    try {
      await expect(transposed.run(samples[0]!)).rejects.toMatchObject({ code: 'model_output_invalid', dims: [3, 1], message: expect.stringMatching(/has dims \[3, 1\] for a batch of 1, expected the batch first/) });
    } finally {
      await transposed.close();
    }
    const narrow = await tinyPool({ id: 'mean' }, 4);
    try {
      await expect(narrow.run(samples[0]!)).rejects.toMatchObject({ code: 'model_output_invalid', message: expect.stringMatching(/has dims \[1, 3\] for a batch of 1, expected \[1, 4\]/) });
    } finally {
      await narrow.close();
    }
  });
});

describe('session pool threads that die', () => {
  const sample = () => urlFeatures('https://host.example.com/path');

  it('a replacement that cannot start: waiting and new runs fail promptly with model_failed (transient), and the pool recovers by retrying', async () => {
    const pool = await SessionPool.start({ ...urlPoolOptions(await urlModel()), restartDelayMs: 50, label: 'model url' });
    try {
      expect((await pool.run(sample())).length).toBe(2);
      // The thread dies (a crash, out of memory) and its replacement cannot create a session.
      const { options, slots } = insides(pool);
      const good = options.modelBytes;
      options.modelBytes = new Uint8Array([1, 2, 3]);
      await slots[0]!.worker.terminate();
      // Queued for the replacement: rejected when it fails, not left waiting.
      const waiting = pool.run(sample());
      const unavailable = { code: 'model_failed', message: expect.stringMatching(/^model url: no inference thread is running \(a replacement failed to start: .*protobuf.*\); retrying$/) };
      await expect(waiting).rejects.toMatchObject(unavailable);
      // New runs fail at once while no thread serves.
      const started = Date.now();
      const error = await pool.run(sample()).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(100);
      expect(error).toMatchObject(unavailable);
      expect((error as ScanError).permanent).toBe(false);
      // The pool keeps retrying (with backoff): once a thread starts again, runs are answered.
      options.modelBytes = good;
      await vi.waitFor(async () => expect((await pool.run(sample())).length).toBe(2), { timeout: 15_000, interval: 100 });
    } finally {
      await pool.close();
    }
  }, 30_000);

  it('through a URL classifier: a job scored after the thread died and could not be replaced fails with model_failed instead of hanging', async () => {
    const classifiers = await openClassifiers({ tasks: ['url'], urlPool: { restartDelayMs: 60_000 } });
    try {
      const model = classifiers.url[0]!;
      const pool = (model as unknown as { pool: SessionPool }).pool;
      insides(pool).options.modelBytes = new Uint8Array([1, 2, 3]);
      await insides(pool).slots[0]!.worker.terminate();
      const outcome = await Promise.race([
        model.classifyUrl('https://example.org/x').then(
          () => 'resolved',
          (error: unknown) => error,
        ),
        new Promise((resolve) => setTimeout(() => resolve('still pending after 5 s'), 5000)),
      ]);
      expect(outcome).toMatchObject({ code: 'model_failed', detail: { model: 'url-lexical-logreg' }, message: expect.stringMatching(/no inference thread is running/) });
    } finally {
      await classifiers.close();
    }
  });

  it('a run the thread does not answer in time rejects with model_failed at its deadline; the late row is dropped', async () => {
    const pool = await SessionPool.start({ ...urlPoolOptions(await urlModel()), runTimeoutMs: 300, maxBatch: 1 });
    const worker = insides(pool).slots[0]!.worker;
    const post = worker.postMessage.bind(worker);
    try {
      // The thread gets its work late (a run that takes far too long).
      worker.postMessage = (message: unknown, transfer?: Parameters<Worker['postMessage']>[1]) => void setTimeout(() => post(message, transfer), 1000);
      const started = Date.now();
      const inFlight = pool.run(sample()).catch((e: unknown) => e);
      const queued = pool.run(sample()).catch((e: unknown) => e);
      expect(await inFlight).toMatchObject({ code: 'model_failed', message: 'model: no result within 300 ms' });
      expect(await queued).toMatchObject({ code: 'model_failed', message: 'model: no result within 300 ms (no inference thread took the sample)' });
      expect(Date.now() - started).toBeLessThan(900);
      worker.postMessage = post;
      // The late answer (dropped) frees the thread for the next run.
      await new Promise((resolve) => setTimeout(resolve, 1300 - (Date.now() - started)));
      expect(pool.stats()).toMatchObject({ runs: 1, samples: 1 });
      expect((await pool.run(sample())).length).toBe(2);
    } finally {
      worker.postMessage = post;
      await pool.close();
    }
  });
});
