/**
 * Generates the image fixtures, deterministically: `npx tsx scripts/make-fixtures.ts`.
 *
 * fixtures/images/<name>.jpg            five synthetic originals (640x480) with real structure
 * fixtures/images/<name>--<edit>.jpg    transformed copies: jpeg-q20, half, crop2, rot90, mirror, gray
 * fixtures/images/bad/                  inputs the decoder must refuse, each with a known error code
 *
 * Everything is drawn from fixed seeds, so re-running rewrites byte-identical files (for a given
 * sharp/libvips version). The files are committed; tests never regenerate them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { pngChunk } from '../test/harness/png.js';
import { seededRandom } from '../test/harness/seeded-random.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'images');
const WIDTH = 640;
const HEIGHT = 480;

export const ORIGINAL_NAMES = ['rings', 'shapes', 'text-lines', 'clouds', 'mosaic'] as const;
export const EDIT_NAMES = ['jpeg-q20', 'half', 'crop2', 'rot90', 'mirror', 'gray'] as const;
export type EditName = (typeof EDIT_NAMES)[number];

type Rgb = [number, number, number];

function rawImage(paint: (x: number, y: number) => Rgb): Buffer {
  const data = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const [r, g, b] = paint(x, y);
      const o = (y * WIDTH + x) * 3;
      data[o] = r;
      data[o + 1] = g;
      data[o + 2] = b;
    }
  }
  return data;
}

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

function drawRings(): Buffer {
  const cx = WIDTH * 0.62;
  const cy = HEIGHT * 0.4;
  return rawImage((x, y) => {
    const d = Math.hypot(x - cx, y - cy);
    const ring = Math.sin(d / 14) * Math.exp(-d / 420);
    return [clamp((x / WIDTH) * 200 + ring * 50), clamp(128 + ring * 120), clamp((y / HEIGHT) * 220 - ring * 40)];
  });
}

/** Value noise: a lattice of random values, bilinearly interpolated with a smoothstep. */
function valueNoise(random: () => number, cell: number): (x: number, y: number) => number {
  const cols = Math.ceil(WIDTH / cell) + 2;
  const rows = Math.ceil(HEIGHT / cell) + 2;
  const lattice = Float64Array.from({ length: cols * rows }, random);
  const smooth = (t: number): number => t * t * (3 - 2 * t);
  return (x, y) => {
    const gx = x / cell;
    const gy = y / cell;
    const x0 = Math.floor(gx);
    const y0 = Math.floor(gy);
    const tx = smooth(gx - x0);
    const ty = smooth(gy - y0);
    const at = (i: number, j: number): number => lattice[j * cols + i]!;
    const top = at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx;
    const bottom = at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx;
    return top * (1 - ty) + bottom * ty;
  };
}

function drawClouds(): Buffer {
  const random = seededRandom(4);
  const octaves = [160, 80, 40, 20].map((cell) => valueNoise(random, cell));
  const ground = valueNoise(random, 30);
  return rawImage((x, y) => {
    const n = octaves.reduce((sum, octave, i) => sum + octave(x, y) / 2 ** i, 0) / 1.875;
    const horizon = HEIGHT * 0.68 + Math.sin(x / 90) * 18;
    if (y > horizon) {
      const g = ground(x, y);
      return [clamp(40 + g * 60), clamp(70 + g * 90), clamp(30 + g * 30)];
    }
    const cloud = Math.max(0, n - 0.45) * 2.4;
    return [clamp(90 + cloud * 165), clamp(140 + cloud * 115), clamp(220 + cloud * 35)];
  });
}

function drawMosaic(): Buffer {
  const random = seededRandom(5);
  const seeds = Array.from({ length: 28 }, () => ({
    x: random() * WIDTH,
    y: random() * HEIGHT,
    colour: [random() * 255, random() * 255, random() * 255] as Rgb,
  }));
  return rawImage((x, y) => {
    let best = seeds[0]!;
    let bestDistance = Infinity;
    for (const seed of seeds) {
      const d = (seed.x - x) ** 2 + (seed.y - y) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = seed;
      }
    }
    return best.colour.map(clamp) as Rgb;
  });
}

function shapesSvg(): string {
  const random = seededRandom(2);
  const colour = (): string => `rgb(${Math.floor(random() * 256)},${Math.floor(random() * 256)},${Math.floor(random() * 256)})`;
  const shapes: string[] = [];
  for (let i = 0; i < 40; i++) {
    const x = Math.round(random() * WIDTH);
    const y = Math.round(random() * HEIGHT);
    const size = Math.round(24 + random() * 90);
    if (i % 3 === 0) shapes.push(`<circle cx="${x}" cy="${y}" r="${size / 2}" fill="${colour()}"/>`);
    else if (i % 3 === 1) shapes.push(`<rect x="${x - size / 2}" y="${y - size / 3}" width="${size}" height="${(size * 2) / 3}" fill="${colour()}"/>`);
    else shapes.push(`<polygon points="${x},${y - size / 2} ${x + size / 2},${y + size / 2} ${x - size / 2},${y + size / 2}" fill="${colour()}"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}">
<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#203050"/><stop offset="1" stop-color="#e0c080"/></linearGradient></defs>
<rect width="${WIDTH}" height="${HEIGHT}" fill="url(#bg)"/>${shapes.join('')}</svg>`;
}

/** A page of "text": a header bar, lines of word-like bars, and a picture block. */
function textLinesSvg(): string {
  const random = seededRandom(3);
  const parts = [`<rect width="${WIDTH}" height="${HEIGHT}" fill="#fbfaf5"/>`, `<rect x="40" y="30" width="380" height="34" fill="#1b2a4a"/>`];
  parts.push(`<rect x="420" y="100" width="180" height="150" fill="#8a6f4e"/><circle cx="510" cy="160" r="40" fill="#d9b37a"/>`);
  for (let line = 0; line < 17; line++) {
    const y = 100 + line * 22;
    const right = y < 260 ? 400 : 600;
    let x = 40;
    while (x < right - 30) {
      const word = Math.round(12 + random() * 60);
      if (x + word > right) break;
      parts.push(`<rect x="${x}" y="${y}" width="${word}" height="11" fill="#333"/>`);
      x += word + 8;
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}">${parts.join('')}</svg>`;
}

async function original(name: (typeof ORIGINAL_NAMES)[number]): Promise<Sharp> {
  const raw = { width: WIDTH, height: HEIGHT, channels: 3 as const };
  switch (name) {
    case 'rings':
      return sharp(drawRings(), { raw });
    case 'clouds':
      return sharp(drawClouds(), { raw });
    case 'mosaic':
      return sharp(drawMosaic(), { raw });
    case 'shapes':
      return sharp(Buffer.from(shapesSvg())).flatten({ background: '#ffffff' });
    case 'text-lines':
      return sharp(Buffer.from(textLinesSvg())).flatten({ background: '#ffffff' });
  }
}

function edit(image: Sharp, name: EditName): Sharp {
  switch (name) {
    case 'jpeg-q20':
      return image.jpeg({ quality: 20 });
    case 'half':
      return image.resize(WIDTH / 2, HEIGHT / 2).jpeg({ quality: 85 });
    case 'crop2': {
      // 2% off in total: 1% from each edge.
      const dx = Math.round(WIDTH * 0.01);
      const dy = Math.round(HEIGHT * 0.01);
      return image.extract({ left: dx, top: dy, width: WIDTH - 2 * dx, height: HEIGHT - 2 * dy }).jpeg({ quality: 85 });
    }
    case 'rot90':
      return image.rotate(90).jpeg({ quality: 85 });
    case 'mirror':
      return image.flop().jpeg({ quality: 85 });
    case 'gray':
      return image.grayscale().jpeg({ quality: 85 });
  }
}

/** A 1x1 GIF with `count` frames, written by hand so that no encoder has to hold them all. */
export function manyFramesGif(count: number): Buffer {
  const header = Buffer.from([
    ...Buffer.from('GIF89a'), 1, 0, 1, 0, 0x80, 0, 0, // 1x1 screen, 2-entry global colour table
    0, 0, 0, 255, 255, 255,
    0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0'), 3, 1, 0, 0, 0, // loop forever
  ]);
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const pixel = i & 1;
    // Graphic control (delay 1/100 s), image descriptor, LZW (min code size 2): clear, pixel, end.
    const codes = 4 | (pixel << 3) | ((5 & 3) << 6);
    frames.push(Buffer.from([0x21, 0xf9, 4, 0, 1, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, codes, 5 >> 2, 0]));
  }
  return Buffer.concat([header, ...frames, Buffer.from([0x3b])]);
}

/** A valid PNG whose IHDR (with a correct CRC) claims width x height: refused before any pixel work. */
export async function hugeHeaderPng(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer());
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/** One frame of an APNG built by `apng`: a PNG of the frame's size, of the canvas's bit depth and colour type (and palette). */
export interface ApngFrameSpec {
  png: Buffer;
  x?: number;
  y?: number;
  /** Delay in ms (written as delay_num / 1000). Default 100. */
  delayMs?: number;
  /** dispose_op: 0 none, 1 background, 2 previous. Default 0. */
  dispose?: number;
  /** blend_op: 0 source, 1 over. Default 0. */
  blend?: number;
}

/** A PNG's IHDR data, its PLTE and tRNS records, and its image data (its IDAT chunks' data, joined). */
function pngParts(png: Buffer): { ihdr: Buffer; palette: Buffer[]; data: Buffer } {
  const data: Buffer[] = [];
  const palette: Buffer[] = [];
  let ihdr: Buffer | undefined;
  for (let at = 8; at + 12 <= png.length; at += 12 + png.readUInt32BE(at)) {
    const type = png.toString('latin1', at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + png.readUInt32BE(at));
    if (type === 'IHDR') ihdr = body;
    if (type === 'IDAT') data.push(body);
    if (type === 'PLTE' || type === 'tRNS') palette.push(png.subarray(at, at + 12 + body.length));
  }
  return { ihdr: ihdr!, palette, data: Buffer.concat(data) };
}


/**
 * An animated PNG of `frames` (their IDAT data as fcTL + fdAT), as APNG encoders write it. With
 * `defaultImage`, that PNG's IDAT is the default image and not part of the animation (no fcTL
 * before it: APNG viewers never show it); without, frames[0] is the default image (its fcTL first).
 * `numFrames` overrides acTL's num_frames (for malformed files).
 */
export function apng(frames: readonly ApngFrameSpec[], options: { defaultImage?: Buffer; numFrames?: number; loops?: number } = {}): Buffer {
  const canvas = pngParts(options.defaultImage ?? frames[0]!.png);
  const chunks: Buffer[] = [pngChunk('IHDR', canvas.ihdr)];
  const acTL = Buffer.alloc(8);
  acTL.writeUInt32BE(options.numFrames ?? frames.length, 0);
  acTL.writeUInt32BE(options.loops ?? 0, 4);
  chunks.push(pngChunk('acTL', acTL), ...canvas.palette);
  let sequence = 0;
  const fcTL = (frame: ApngFrameSpec, ihdr: Buffer): Buffer => {
    const data = Buffer.alloc(26);
    data.writeUInt32BE(sequence++, 0);
    data.writeUInt32BE(ihdr.readUInt32BE(0), 4);
    data.writeUInt32BE(ihdr.readUInt32BE(4), 8);
    data.writeUInt32BE(frame.x ?? 0, 12);
    data.writeUInt32BE(frame.y ?? 0, 16);
    data.writeUInt16BE(Math.round(frame.delayMs ?? 100), 20);
    data.writeUInt16BE(1000, 22);
    data[24] = frame.dispose ?? 0;
    data[25] = frame.blend ?? 0;
    return pngChunk('fcTL', data);
  };
  frames.forEach((frame, i) => {
    const parts = pngParts(frame.png);
    if (!parts.ihdr.subarray(8).equals(canvas.ihdr.subarray(8))) throw new Error(`frame ${i}: bit depth, colour type or interlace differ from the canvas's`);
    if (i === 0 && !options.defaultImage) {
      chunks.push(fcTL(frame, parts.ihdr), pngChunk('IDAT', parts.data));
      return;
    }
    if (i === 0) chunks.push(pngChunk('IDAT', canvas.data));
    const control = fcTL(frame, parts.ihdr);
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(sequence++, 0);
    chunks.push(control, pngChunk('fdAT', Buffer.concat([seq, parts.data])));
  });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks, pngChunk('IEND', Buffer.alloc(0))]);
}

function write(path: string, data: Buffer | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

async function main(): Promise<void> {
  for (const name of ORIGINAL_NAMES) {
    // Render once to raw so that every copy starts from identical pixels.
    const { data, info } = await (await original(name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const base = (): Sharp => sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
    write(join(root, `${name}.jpg`), await base().jpeg({ quality: 85 }).toBuffer());
    for (const editName of EDIT_NAMES) {
      write(join(root, `${name}--${editName}.jpg`), await edit(base(), editName).toBuffer());
    }
  }

  const bad = join(root, 'bad');
  const jpeg = await sharp(drawRings(), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
  write(join(bad, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  write(join(bad, 'huge-header.png'), await hugeHeaderPng(100_000, 100_000));
  write(join(bad, 'many-frames.gif'), manyFramesGif(10_000));
  write(join(bad, 'image.svg'), '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>\n');
  write(join(bad, 'zero.bin'), Buffer.alloc(0));
  const random = seededRandom(99);
  write(join(bad, 'random.bin'), Buffer.from(Array.from({ length: 4096 }, () => Math.floor(random() * 256))));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
