/**
 * `npx tsx bench/run.ts images [--seconds N]`: decode + blockhash + PDQ per image, as images
 * per second on one core, beside the floor measured in the same run: sharp's bare decode and
 * shrink to the same working size, alternating with the full path image by image (the ratio).
 * Target: hashing adds at most 50% to the bare decode.
 *
 * One core: sharp.concurrency(1) keeps libvips to one thread and images go one at a time, so
 * the figures are per core; a worker fleet scales them by its process count.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { DEFAULT_DECODE_OPTIONS } from '../src/images/decode-options.js';
import { blockhash } from '../src/images/blockhash.js';
import { type DecodedImage, decodeImage, hashImage } from '../src/images/index.js';
import { pdqHash } from '../src/images/pdq/hasher.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'images');

interface Corpus {
  label: string;
  images: Buffer[];
}

/** Runs `work` over the corpus round-robin until `seconds` have passed; returns ms per image. */
async function msPerImage(corpus: Corpus, seconds: number, work: (bytes: Buffer, index: number) => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < Math.min(corpus.images.length, 10); i++) await work(corpus.images[i]!, i); // warm up
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000 || count < corpus.images.length) {
    const index = count % corpus.images.length;
    await work(corpus.images[index]!, index);
    count++;
  }
  return (performance.now() - started) / count;
}

/**
 * ms per image of `floor` and of `work`, alternating the two image by image, so that load which
 * drifts during the run (other processes, CPU frequency) moves both sides of the ratio alike.
 */
async function pairedMsPerImage(
  corpus: Corpus,
  seconds: number,
  floor: (bytes: Buffer) => Promise<unknown>,
  work: (bytes: Buffer) => Promise<unknown>,
): Promise<{ floor: number; work: number }> {
  for (let i = 0; i < Math.min(corpus.images.length, 10); i++) {
    await floor(corpus.images[i]!);
    await work(corpus.images[i]!);
  }
  let count = 0;
  let floorMs = 0;
  let workMs = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 2000 || count < corpus.images.length) {
    const bytes = corpus.images[count % corpus.images.length]!;
    const t0 = performance.now();
    await floor(bytes);
    const t1 = performance.now();
    await work(bytes);
    floorMs += t1 - t0;
    workMs += performance.now() - t1;
    count++;
  }
  return { floor: floorMs / count, work: workMs / count };
}

/** The floor: what any consumer pays to get pixels at the working size, with nothing else. */
async function bareDecode(bytes: Buffer): Promise<Buffer> {
  const size = DEFAULT_DECODE_OPTIONS.workingSize;
  return sharp(bytes).rotate().resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true }).raw().toBuffer();
}

async function largeJpeg(): Promise<Buffer> {
  // Structured content (an upscaled fixture with grain), not a flat colour, so the JPEG costs
  // what a photo of that size costs to decode.
  const { data, info } = await sharp(readFileSync(join(fixtures, 'mosaic.jpg'))).resize(4000, 3000).raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i += 7) data[i] = Math.min(255, data[i]! + ((i * 2654435761) >>> 28));
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: 88 }).toBuffer();
}

function row(cells: (string | number)[]): string {
  return cells.map((cell, i) => String(cell).padStart(i === 0 ? 26 : 12)).join(' ');
}

async function benchCorpus(corpus: Corpus, seconds: number): Promise<void> {
  const { floor: bare, work: full } = await pairedMsPerImage(corpus, seconds, bareDecode, async (bytes) => hashImage(await decodeImage(bytes)));
  const decodeOnly = await msPerImage(corpus, seconds, (bytes) => decodeImage(bytes));
  // Hash stages alone, on frames decoded once up front.
  const decoded: DecodedImage[] = [];
  for (const bytes of corpus.images) decoded.push(await decodeImage(bytes));
  const pdqOnly = await msPerImage(corpus, seconds, (_bytes, i) => pdqHash(decoded[i]!.frames[0]!));
  const blockhashOnly = await msPerImage(corpus, seconds, (_bytes, i) => blockhash(decoded[i]!.frames[0]!));

  console.log(`\n${corpus.label}: ${corpus.images.length} image(s), working size ${decoded[0]!.frames[0]!.width}x${decoded[0]!.frames[0]!.height} (first)`);
  console.log(row(['', 'ms/image', 'images/s/core']));
  console.log(row(['sharp decode+resize (floor)', bare.toFixed(2), (1000 / bare).toFixed(1)]));
  console.log(row(['decodeImage', decodeOnly.toFixed(2), (1000 / decodeOnly).toFixed(1)]));
  console.log(row(['  PDQ alone', pdqOnly.toFixed(2), (1000 / pdqOnly).toFixed(1)]));
  console.log(row(['  blockhash alone', blockhashOnly.toFixed(2), (1000 / blockhashOnly).toFixed(1)]));
  console.log(row(['decode + blockhash + PDQ', full.toFixed(2), (1000 / full).toFixed(1)]));
  const ratio = full / bare; // measured image by image, alternating with the floor
  const verdict = ratio <= 1.5 ? 'within' : 'OVER';
  console.log(`ratio to floor: ${ratio.toFixed(2)}x (hashing and checks add ${((ratio - 1) * 100).toFixed(0)}%; target <= 50%: ${verdict})`);
}

export async function main(args: string[]): Promise<void> {
  const secondsFlag = args.indexOf('--seconds');
  const seconds = secondsFlag >= 0 ? Number(args[secondsFlag + 1]) : 3;
  sharp.concurrency(1);
  sharp.cache(false); // every decode starts from the bytes, as in the worker
  const fixtureFiles = readdirSync(fixtures).filter((file) => file.endsWith('.jpg'));
  console.log(`images bench: node ${process.version}, sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, one libvips thread, ${seconds}s per measurement`);
  await benchCorpus({ label: 'fixtures (640x480 and edits, JPEG)', images: fixtureFiles.map((file) => readFileSync(join(fixtures, file))) }, seconds);
  await benchCorpus({ label: 'generated 4000x3000 JPEG', images: [await largeJpeg()] }, seconds);
}
