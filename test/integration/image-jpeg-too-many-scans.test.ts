/**
 * A progressive JPEG of thousands of valid scans, each an EOB run of a few bytes, makes libjpeg walk
 * every block of the image once per scan in one native call that sharp's timeout cannot stop: a
 * 279 KB 7000x7000 one of 2,647 scans kept its decode slot until 14 to 33 s, long past its 10 s
 * image_timeout, and two of them stalled every image decode of a 2-slot process. Such a file is
 * refused from its markers (src/images/jpeg-markers.ts), before any sharp call and before it takes
 * a slot; what encoders write still decodes.
 */
import sharp from 'sharp';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { decodeImage, DecodeLimiter } from '../../src/images/index.js';
import { MAX_JPEG_SCANS } from '../../src/images/jpeg-markers.js';
import { sharpCalls } from '../harness/sharp-calls.js';

vi.mock('sharp', async (importOriginal) => (await import('../harness/sharp-calls.js')).recordingSharp(importOriginal));

beforeEach(() => {
  sharpCalls.length = 0;
});

interface Component {
  id: number;
  h: number;
  v: number;
}
interface Scan {
  ids: number[];
  ss: number;
  se: number;
  ah: number;
  al: number;
}
const YCC_420: Component[] = [
  { id: 1, h: 2, v: 2 },
  { id: 2, h: 1, v: 1 },
  { id: 3, h: 1, v: 1 },
];

/**
 * A valid progressive JPEG of a flat grey image: DC scans of zero differences, AC scans of EOB runs
 * only (one Huffman table each), so a scan over millions of blocks takes a few bytes.
 */
function progressiveJpeg(width: number, height: number, components: Component[], scans: Scan[]): Buffer {
  const segment = (code: number, body: number[]): Buffer => Buffer.from([0xff, code, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body]);
  const hMax = Math.max(...components.map((c) => c.h));
  const vMax = Math.max(...components.map((c) => c.v));
  const mcus = Math.ceil(width / (8 * hMax)) * Math.ceil(height / (8 * vMax));
  const blocksOf = (c: Component): number => Math.ceil(Math.ceil((width * c.h) / hMax) / 8) * Math.ceil(Math.ceil((height * c.v) / vMax) / 8);
  const dcLengths = [1, ...Array<number>(15).fill(0)]; // one code, '0': difference category 0
  const acLengths = [0, 0, 0, 15, ...Array<number>(12).fill(0)]; // EOB0 to EOB14, 4 bits each
  const parts = [
    Buffer.from([0xff, 0xd8]),
    segment(0xdb, [0, ...Array<number>(64).fill(1)]),
    segment(0xc2, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, components.length, ...components.flatMap((c) => [c.id, (c.h << 4) | c.v, 0])]),
    segment(0xc4, [0x00, ...dcLengths, 0x00, 0x10, ...acLengths, ...Array.from({ length: 15 }, (_, r) => r << 4)]),
  ];
  const data = new Map<string, Buffer>();
  for (const scan of scans) {
    const inScan = scan.ids.map((id) => components.find((c) => c.id === id)!);
    parts.push(segment(0xda, [inScan.length, ...inScan.flatMap((c) => [c.id, 0x00]), scan.ss, scan.se, (scan.ah << 4) | scan.al]));
    const blocks = inScan.length > 1 ? mcus * inScan.reduce((sum, c) => sum + c.h * c.v, 0) : blocksOf(inScan[0]!);
    const key = `${scan.ss === 0}:${blocks}`;
    if (!data.has(key)) data.set(key, scan.ss === 0 ? zeroBits(blocks) : eobRuns(blocks));
    parts.push(data.get(key)!);
  }
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

class BitWriter {
  private readonly bytes: number[] = [];
  private byte = 0;
  private count = 0;
  put(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.byte = (this.byte << 1) | ((value >> i) & 1);
      if (++this.count === 8) {
        this.bytes.push(this.byte);
        if (this.byte === 0xff) this.bytes.push(0);
        this.byte = 0;
        this.count = 0;
      }
    }
  }
  done(): Buffer {
    if (this.count > 0) this.put((1 << (8 - this.count)) - 1, 8 - this.count);
    return Buffer.from(this.bytes);
  }
}
/** One '0' a block: a DC difference of category 0 (first scan), or a refinement bit of 0. */
function zeroBits(blocks: number): Buffer {
  const bits = new BitWriter();
  for (let i = 0; i < blocks; i++) bits.put(0, 1);
  return bits.done();
}
/** EOB runs of up to 32,767 blocks (EOB14): a few bytes for any number of blocks. */
function eobRuns(blocks: number): Buffer {
  const bits = new BitWriter();
  for (let left = blocks; left > 0; ) {
    const run = Math.min(left, 32767);
    const r = 31 - Math.clz32(run);
    bits.put(r, 4);
    if (r > 0) bits.put(run - (1 << r), r);
    left -= run;
  }
  return bits.done();
}

/**
 * The longest valid progression of AC scans, cut to `count` scans: one interleaved DC scan, then for
 * each component and AC coefficient a first scan at Al 13 and its 13 refinements (2,647 scans for 3
 * components).
 */
function longestProgression(components: Component[], count = Number.POSITIVE_INFINITY): Scan[] {
  const ids = components.map((c) => c.id);
  const scans: Scan[] = [{ ids, ss: 0, se: 0, ah: 0, al: 0 }];
  for (const id of ids) {
    for (let k = 1; k <= 63; k++) {
      scans.push({ ids: [id], ss: k, se: k, ah: 0, al: 13 });
      for (let a = 13; a >= 1; a--) scans.push({ ids: [id], ss: k, se: k, ah: a, al: a - 1 });
    }
  }
  return scans.slice(0, count);
}

async function refusal(work: Promise<unknown>): Promise<ScanError> {
  const error = await work.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ScanError);
  return error as ScanError;
}

describe('a JPEG of more scans than encoders write', () => {
  it('a valid 7000x7000 progressive JPEG of 2,647 scans (under 300 KB): image_too_complex, before any sharp call and without a decode slot', async () => {
    const scans = longestProgression(YCC_420);
    expect(scans).toHaveLength(2647);
    const bomb = progressiveJpeg(7000, 7000, YCC_420, scans);
    expect(bomb.length).toBeLessThan(300_000);
    // The only slot is held, as two such decodes held both slots of a 2-core worker: the refusal does not wait for it.
    const limiter = new DecodeLimiter(1);
    const release = await limiter.acquire();
    try {
      const error = await refusal(decodeImage(bomb, { limiter }));
      expect(error.code).toBe('image_too_complex');
      expect(error.permanent).toBe(true);
      expect(error.detail).toEqual({ format: 'jpeg', limitScans: MAX_JPEG_SCANS });
      expect(limiter.waiting).toBe(0);
    } finally {
      release();
    }
    expect(sharpCalls).toEqual([]);
  });

  it('the limit is a scan count, whatever the size: 101 scans of a 64x64 image are refused, 100 decode', async () => {
    const over = progressiveJpeg(64, 64, YCC_420, longestProgression(YCC_420, MAX_JPEG_SCANS + 1));
    expect((await refusal(decodeImage(over))).code).toBe('image_too_complex');
    expect(sharpCalls).toEqual([]);

    const atLimit = progressiveJpeg(64, 64, YCC_420, longestProgression(YCC_420, MAX_JPEG_SCANS));
    const decoded = await decodeImage(atLimit);
    expect(decoded).toMatchObject({ format: 'jpeg', width: 64, height: 64 });
    // Flat mid-grey: every DC and AC coefficient is 0.
    expect(decoded.frames[0]!.data.every((value) => Math.abs(value - 128) <= 1)).toBe(true);
  });

  it('what encoders write still decodes: libjpeg\'s progression, mozjpeg\'s, a progressive CMYK JPEG, a baseline JPEG', async () => {
    const photo = sharp({ create: { width: 900, height: 600, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).blur(3);
    const encoded = {
      progressive: await photo.clone().jpeg({ progressive: true }).toBuffer(),
      mozjpeg: await photo.clone().jpeg({ mozjpeg: true }).toBuffer(),
      cmyk: await photo.clone().toColourspace('cmyk').jpeg({ progressive: true }).toBuffer(),
      baseline: await photo.clone().jpeg().toBuffer(),
    };
    for (const [name, bytes] of Object.entries(encoded)) {
      const decoded = await decodeImage(bytes);
      expect(decoded, name).toMatchObject({ format: 'jpeg', width: 900, height: 600 });
      expect(decoded.frames[0]!.data.length, name).toBe(512 * 341 * 3);
    }
    expect(sharpCalls.length).toBeGreaterThanOrEqual(8);
  });
});
