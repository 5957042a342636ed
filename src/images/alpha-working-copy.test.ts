/**
 * The working copy of an image with alpha that must shrink: its RGB is the stored RGB shrunk as if
 * there were no alpha (what PDQ's reference hashes), not libvips's premultiplied resize, which
 * turns every fully transparent pixel black whatever colour it stores. Real images built with
 * sharp, real decodes, the project's own hashes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../errors.js';
import { hammingDistance } from '../matching/hash-bits.js';
import { decodeImage } from './decode.js';
import { hashImage } from './index.js';

const mosaic = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'images', 'mosaic.jpg'));

/**
 * size x size RGBA: the mosaic fixture (textured) inside a centred disc, opaque; outside it fully
 * transparent, storing `hidden` as its RGB. Also the same pixels with the alpha channel dropped:
 * the stored RGB, opaque.
 */
async function sticker(size: number, hidden: number): Promise<{ rgba: Buffer; opaque: Buffer }> {
  const content = await sharp(mosaic).resize(size, size, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  const rgba = Buffer.alloc(size * size * 4);
  const rgb = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      const inside = (x / size - 0.5) ** 2 + (y / size - 0.5) ** 2 < 0.12;
      for (let c = 0; c < 3; c++) rgba[p * 4 + c] = rgb[p * 3 + c] = inside ? content[p * 3 + c]! : hidden;
      rgba[p * 4 + 3] = inside ? 255 : 0;
    }
  }
  const png = (pixels: Buffer, channels: 3 | 4) => sharp(pixels, { raw: { width: size, height: size, channels } }).png({ compressionLevel: 1 }).toBuffer();
  return { rgba: await png(rgba, 4), opaque: await png(rgb, 3) };
}

describe('an image with alpha hashes alike at any size, whatever its transparent pixels store', () => {
  const sizes = [500, 512, 513, 1024, 2000];
  for (const [name, hidden] of [
    ['white', 255],
    ['black', 0],
  ] as const) {
    it(`transparent pixels storing ${name}: PDQ of every size within 16 bits of the 500 px copy, and that of the stored RGB, opaque, within 4`, async () => {
      const pdq: Record<number, Uint8Array> = {};
      const fromStored: Record<number, number> = {};
      for (const size of sizes) {
        const { rgba, opaque } = await sticker(size, hidden);
        const decoded = await decodeImage(rgba);
        const frame = decoded.frames[0]!;
        expect(frame.alpha, `${size}`).toBeDefined();
        expect([frame.width, frame.height]).toEqual([Math.min(size, 512), Math.min(size, 512)]);
        const hashes = hashImage(decoded);
        expect(hashes.pdqQuality).toBe(100);
        pdq[size] = hashes.pdq;
        fromStored[size] = hammingDistance(hashes.pdq, hashImage(await decodeImage(opaque)).pdq);
      }
      const fromSmallest = Object.fromEntries(sizes.map((size) => [size, hammingDistance(pdq[size]!, pdq[500]!)]));
      // Observed, 500/512/513/1024/2000 px: white 0, 6, 6, 6, 8 bits from the 500 px copy, 0 from
      // the stored RGB at every size (the premultiplied resize: 0, 6, 58, 60, 60 and 0, 0, 62, 64,
      // 64); black 0, 0, 0, 2, 2 and 0 (premultiplied: 0, 0, 4, 6, 6 and 0, 0, 4, 4, 4).
      for (const size of sizes) {
        expect(fromSmallest[size], `${size} px vs 500 px: ${JSON.stringify(fromSmallest)}`).toBeLessThanOrEqual(16);
        expect(fromStored[size], `${size} px vs its stored RGB: ${JSON.stringify(fromStored)}`).toBeLessThanOrEqual(4);
      }
    });
  }

  it('a shrunk frame keeps its alpha plane, at the working size, and the stored colour of its transparent pixels', async () => {
    const width = 2000;
    const height = 1000;
    const rgba = Buffer.alloc(width * height * 4);
    // Left half opaque red; right half fully transparent, storing blue.
    for (let p = 0; p < width * height; p++) rgba.set(p % width < width / 2 ? [200, 0, 0, 255] : [0, 90, 180, 0], p * 4);
    const png = await sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer();
    const decoded = await decodeImage(png);
    expect(decoded).toMatchObject({ width, height, hasAlpha: true });
    const { data, alpha, width: w, height: h } = decoded.frames[0]!;
    expect([w, h]).toEqual([512, 256]);
    expect(data.length).toBe(512 * 256 * 3);
    expect(alpha?.length).toBe(512 * 256);
    const at = (x: number, y: number) => ({ rgb: [...data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)], alpha: alpha![y * w + x] });
    expect(at(10, 100)).toEqual({ rgb: [200, 0, 0], alpha: 255 });
    // libvips's premultiplied resize stored [0, 0, 0] here.
    expect(at(500, 100)).toEqual({ rgb: [0, 90, 180], alpha: 0 });
  });

  it('RGB and alpha are sampled on one grid, in every EXIF orientation: stored grey equal to alpha comes out equal', async () => {
    const width = 1100;
    const height = 300;
    const rgba = Buffer.alloc(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = x < 40 ? 0 : Math.round(127.5 + 127.5 * Math.sin(x / 13 + y / 29) * Math.cos(y / 7));
        rgba.fill(v, (y * width + x) * 4, (y * width + x) * 4 + 4);
      }
    }
    for (let orientation = 1; orientation <= 8; orientation++) {
      const png = await sharp(rgba, { raw: { width, height, channels: 4 } }).png().withMetadata({ orientation }).toBuffer();
      const frame = (await decodeImage(png)).frames[0]!;
      expect([frame.width, frame.height], `orientation ${orientation}`).toEqual(orientation >= 5 ? [140, 512] : [512, 140]);
      let worst = 0;
      for (let p = 0; p < frame.width * frame.height; p++) worst = Math.max(worst, Math.abs(frame.data[p * 3]! - frame.alpha![p]!));
      expect(worst, `orientation ${orientation}`).toBeLessThanOrEqual(1);
    }
  });

  it('in every EXIF orientation, the RGB is what the same stored RGB without alpha decodes to', async () => {
    const width = 900;
    const height = 500;
    const rgba = Buffer.alloc(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        // Asymmetric: a gradient and a corner block, transparent (storing green) in the top-left quarter.
        const o = (y * width + x) * 4;
        rgba.set([(x * 255) / width, (y * 255) / height, x > 700 && y > 350 ? 255 : 40, 255], o);
        if (x < width / 2 && y < height / 2) rgba.set([0, 255, 0, 0], o);
      }
    }
    for (let orientation = 1; orientation <= 8; orientation++) {
      const image = sharp(rgba, { raw: { width, height, channels: 4 } });
      const withAlpha = await image.clone().png().withMetadata({ orientation }).toBuffer();
      const opaque = await image.clone().removeAlpha().png().withMetadata({ orientation }).toBuffer();
      const [a, b] = [(await decodeImage(withAlpha)).frames[0]!, (await decodeImage(opaque)).frames[0]!];
      expect(a.alpha, `orientation ${orientation}`).toBeDefined();
      expect(b.alpha).toBeUndefined();
      expect([a.width, a.height]).toEqual([b.width, b.height]);
      expect(Buffer.compare(a.data, b.data), `orientation ${orientation}`).toBe(0);
    }
  });
});

describe('the decode memory budget and the second decode of an image with alpha that must shrink', () => {
  /** width x height RGBA PNG, its right half fully transparent. */
  async function halfTransparent(width: number, height: number, channels: 3 | 4 = 4): Promise<Buffer> {
    const pixels = Buffer.alloc(width * height * channels, 128);
    if (channels === 4) for (let p = 0; p < width * height; p++) pixels[p * 4 + 3] = p % width < width / 2 ? 255 : 0;
    return sharp(pixels, { raw: { width, height, channels } }).png({ compressionLevel: 1 }).toBuffer();
  }

  it('an RGBA PNG whose rows fit the budget but not its RGB decoded again is shrunk alpha-weighted, and says so; without alpha, or within the working size, nothing is lost', async () => {
    const budget = { maxDecodeBytes: 8 * 1024 * 1024 };
    // The rows fit (1000 x 1500 x 4 bytes); with the whole frame's RGB again they would not.
    expect(1000 * 1500 * 4).toBeLessThan(budget.maxDecodeBytes);
    expect(1000 * 1500 * 4 + 1000 * 1000 * 3 + 1000 * 320 * 3).toBeGreaterThan(budget.maxDecodeBytes);
    const decoded = await decodeImage(await halfTransparent(1000, 1000), budget);
    const frame = decoded.frames[0]!;
    expect(decoded.transparentColoursLost).toBe(true);
    expect(frame.alphaWeighted).toBe(frame.data);
    // The stored grey under the transparent half is lost: black, as libvips's weighted shrink gives it.
    expect([...frame.data.subarray(511 * 3, 512 * 3)]).toEqual([0, 0, 0]);
    expect((await decodeImage(await halfTransparent(1000, 1000))).transparentColoursLost).toBeUndefined();
    expect((await decodeImage(await halfTransparent(1000, 1000, 3), budget)).transparentColoursLost).toBeUndefined();
    const small = await decodeImage(await halfTransparent(500, 500), budget);
    expect([small.transparentColoursLost, small.frames[0]!.alpha?.length]).toEqual([undefined, 500 * 500]);
  });

  it('over the budget even without the second decode, it is refused as before', async () => {
    const error = await decodeImage(await halfTransparent(1000, 1000), { maxDecodeBytes: 4 * 1024 * 1024 }).then(
      () => expect.unreachable('decoded over the budget'),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ScanError);
    expect(error).toMatchObject({ code: 'image_too_many_pixels', detail: { held: 'rows', decodeBytes: 1000 * 1500 * 4 } });
  });

  it('a large RGBA frame under the budget decodes, alpha plane present and sized like the RGB', async () => {
    const decoded = await decodeImage(await halfTransparent(3000, 1500), { maxDecodeBytes: 64 * 1024 * 1024 });
    const frame = decoded.frames[0]!;
    expect([frame.width, frame.height]).toEqual([512, 256]);
    expect(frame.data.length).toBe(512 * 256 * 3);
    expect(frame.alpha?.length).toBe(512 * 256);
    expect([frame.alpha![0], frame.alpha![511]]).toEqual([255, 0]);
    // The stored grey under the transparent half, not black; the views that composite read the weighted copy.
    expect([...frame.data.subarray(511 * 3, 512 * 3)]).toEqual([128, 128, 128]);
    expect([...frame.alphaWeighted!.subarray(511 * 3, 512 * 3)]).toEqual([0, 0, 0]);
  });

  it('a GIF keeps one decode: its transparent pixels store no colour of their own', async () => {
    const gif = await sharp(await halfTransparent(1000, 1000)).gif().toBuffer();
    const decoded = await decodeImage(gif);
    expect(decoded.transparentColoursLost).toBeUndefined();
    expect(decoded.frames[0]!.alphaWeighted).toBe(decoded.frames[0]!.data);
  });
});
