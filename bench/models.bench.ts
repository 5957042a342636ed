/**
 * `npm run bench:models [-- --seconds N]`: the image model served by the worker-thread session
 * pool, at batch 1 (one image at a time) and batch 8 (eight submitted together, stacked into one
 * run), beside the original nsfwjs TFJS model on the pure-JS CPU backend, on the same fixture
 * images in the same run. Targets: >= 50x faster per image than TFJS; event-loop delay p99 under
 * 20 ms while inference runs (it runs off the loop). For contrast, the same model run with
 * onnxruntime on the main thread, which is what stalls BullMQ's lock renewal.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { imageSample } from '../src/classifiers/image-input.js';
import { loadManifest, readVerifiedModel, type ImageInputSpec } from '../src/classifiers/manifest.js';
import { openClassifiers } from '../src/classifiers/index.js';
import { decodeImage } from '../src/images/index.js';
import { loadTfjsReference } from '../scripts/models/tfjs-reference.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'images');

function stack(samples: Float32Array[]): Float32Array {
  const out = new Float32Array(samples.length * samples[0]!.length);
  samples.forEach((s, i) => out.set(s, i * s.length));
  return out;
}

/** Runs `round` until `seconds` pass (at least `minRounds`); returns ms per image. */
async function msPerImage(imagesPerRound: number, seconds: number, minRounds: number, round: (i: number) => Promise<unknown> | unknown): Promise<number> {
  await round(0); // warm up
  let rounds = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000 || rounds < minRounds) await round(++rounds);
  return (performance.now() - started) / (rounds * imagesPerRound);
}

function delay(histogram: IntervalHistogram): string {
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  return `p50 ${ms(histogram.percentile(50))} ms, p99 ${ms(histogram.percentile(99))} ms, max ${ms(histogram.max)} ms`;
}

export async function main(args: string[]): Promise<void> {
  const secondsFlag = args.indexOf('--seconds');
  const seconds = secondsFlag >= 0 ? Number(args[secondsFlag + 1]) : 5;
  const classifiers = await openClassifiers({ tasks: ['image'] });
  const model = classifiers.image[0]!;
  const spec = model.entry.input as ImageInputSpec;
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.jpg')).sort();
  const samples: Float32Array[] = [];
  for (const file of files) samples.push(imageSample((await decodeImage(readFileSync(join(fixtures, file)))).frames[0]!, spec));
  const pick = (i: number, n: number) => Array.from({ length: n }, (_, k) => samples[(i * n + k) % samples.length]!);
  const settings = model.poolStats();
  console.log(
    `${model.id}@${model.version}: ${samples.length} fixture images, ${availableParallelism()} cores; pool: ${settings.size} thread(s) x ${settings.intraOpThreads} intra-op thread(s), max batch ${settings.maxBatch} (defaults from the core count)`,
  );

  // The pool, with the event loop watched throughout.
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const poolBatch1 = await msPerImage(1, seconds, 20, (i) => model.classifySample(pick(i, 1)[0]!));
  const before8 = model.poolStats();
  const poolBatch8 = await msPerImage(8, seconds, 5, (i) => Promise.all(pick(i, 8).map((s) => model.classifySample(s))));
  const after8 = model.poolStats();
  histogram.disable();
  const poolDelay = delay(histogram);

  // The same model on the main thread: what the pool avoids.
  const manifest = await loadManifest();
  const session = await ort.InferenceSession.create(await readVerifiedModel(manifest, model.entry));
  const blocking = monitorEventLoopDelay({ resolution: 1 });
  blocking.enable();
  const mainThreadBatch8 = await msPerImage(8, Math.min(seconds, 3), 3, async (i) => {
    await session.run({ [spec.name]: new ort.Tensor('float32', stack(pick(i, 8)), [8, spec.height, spec.width, 3]) });
    await new Promise((resolve) => setImmediate(resolve));
  });
  blocking.disable();
  await session.release();

  // The TFJS original: slow, so few rounds.
  const tfjs = await loadTfjsReference();
  const tfjsBatch1 = await msPerImage(1, 0, 3, (i) => tfjs.predict(pick(i, 1)[0]!, 1));
  const tfjsBatch8 = await msPerImage(8, 0, 1, (i) => tfjs.predict(stack(pick(i, 8)), 8));
  tfjs.dispose();
  await classifiers.close();

  const row = (cells: Array<string | number>) => cells.map((c, i) => String(c).padStart(i === 0 ? 34 : 14)).join(' ');
  console.log(row(['', 'ms / image', 'images / s', 'vs TFJS']));
  const line = (label: string, ms: number, tfjsMs: number) => console.log(row([label, ms.toFixed(2), (1000 / ms).toFixed(1), `${(tfjsMs / ms).toFixed(0)}x`]));
  line('TFJS (pure-JS CPU), batch 1', tfjsBatch1, tfjsBatch1);
  line('TFJS (pure-JS CPU), batch 8', tfjsBatch8, tfjsBatch8);
  line('ONNX session pool, batch 1', poolBatch1, tfjsBatch1);
  line('ONNX session pool, batch 8', poolBatch8, tfjsBatch8);
  line('ONNX on the main thread, batch 8', mainThreadBatch8, tfjsBatch8);
  console.log(`batch 8 phase: ${after8.samples - before8.samples} images in ${after8.runs - before8.runs} runs (${((after8.samples - before8.samples) / (after8.runs - before8.runs)).toFixed(1)} per run)`);
  console.log(`event-loop delay while the pool runs: ${poolDelay} (target p99 < 20 ms)`);
  console.log(`event-loop delay with onnxruntime on the main thread: ${delay(blocking)}`);
  const speedup = Math.min(tfjsBatch1 / poolBatch1, tfjsBatch8 / poolBatch8);
  console.log(`per-image speedup over TFJS: ${speedup.toFixed(0)}x at worst (target >= 50x); p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms`);
}
