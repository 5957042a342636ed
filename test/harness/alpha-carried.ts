import { join } from 'node:path';
import sharp from 'sharp';
import { FIXTURE_IMAGES } from './hashes.js';

/**
 * A fixture image in grey, and that picture carried in an RGBA image's alpha channel only: stored
 * RGB flat black with alpha = 255 - luma (the picture on a white page), or flat white with
 * alpha = luma (on a black background). As stored, both hash blank.
 */
export async function alphaCarried(name: string, background: 'white' | 'black'): Promise<{ grey: Buffer; png: Buffer; webp: Buffer }> {
  const { data, info } = await sharp(join(FIXTURE_IMAGES, name)).greyscale().raw().toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  const luma = Buffer.alloc(pixels);
  const rgba = Buffer.alloc(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    luma[p] = data[p * info.channels]!;
    if (background === 'black') rgba.fill(255, p * 4, p * 4 + 3);
    rgba[p * 4 + 3] = background === 'white' ? 255 - luma[p]! : luma[p]!;
  }
  const raw = (pixelData: Buffer, channels: 1 | 4) => sharp(pixelData, { raw: { width: info.width, height: info.height, channels } });
  return { grey: await raw(luma, 1).png().toBuffer(), png: await raw(rgba, 4).png().toBuffer(), webp: await raw(rgba, 4).webp({ lossless: true }).toBuffer() };
}
