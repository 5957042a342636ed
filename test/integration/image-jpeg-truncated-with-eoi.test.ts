/**
 * failOn 'error' (the default) promises to reject a cut-off file rather than hash a half-grey
 * image; libvips rejects a JPEG that simply ends, but a JPEG cut short with an EOI marker put back
 * on is only a libjpeg warning ("Corrupt JPEG data: premature end of data segment"), and the blocks
 * libjpeg never read come out grey. Such a file is now image_corrupt, and so is one whose first
 * libjpeg warning (which hides any after it) comes before its last block; warnings that leave the
 * pixels whole still decode (junk before the EOI marker, trailing bytes after it).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { decodeImage } from '../../src/images/index.js';

const EOI = Buffer.from([0xff, 0xd9]);
const picture = () => sharp({ create: { width: 400, height: 300, channels: 3, background: 'grey', noise: { type: 'gaussian', mean: 128, sigma: 60 } } });
const cutWithEoi = (jpeg: Buffer): Buffer => Buffer.concat([jpeg.subarray(0, jpeg.length >> 1), EOI]);

async function refusal(bytes: Buffer, options?: Parameters<typeof decodeImage>[1]): Promise<ScanError> {
  const error = await decodeImage(bytes, options).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ScanError);
  return error as ScanError;
}

describe('a JPEG cut short with an EOI marker put back on', () => {
  it('baseline, progressive, mozjpeg, 4:4:4, CMYK: image_corrupt at the default failOn, and at truncated', async () => {
    const variants = [
      picture().jpeg(),
      picture().jpeg({ progressive: true }),
      picture().jpeg({ mozjpeg: true }),
      picture().jpeg({ chromaSubsampling: '4:4:4', quality: 95 }),
      picture().toColourspace('cmyk').jpeg(),
    ];
    for (const variant of variants) {
      const jpeg = await variant.toBuffer();
      await expect(decodeImage(jpeg)).resolves.toMatchObject({ format: 'jpeg', width: 400 });
      const error = await refusal(cutWithEoi(jpeg));
      expect(error).toMatchObject({ code: 'image_corrupt', detail: { format: 'jpeg', decoder: 'VipsJpeg: Corrupt JPEG data: premature end of data segment' } });
      expect(error.message).toMatch(/truncated/);
      expect((await refusal(cutWithEoi(jpeg), { failOn: 'truncated' })).code).toBe('image_corrupt');
      // failOn 'none' asks for whatever decodes.
      await expect(decodeImage(cutWithEoi(jpeg), { failOn: 'none' })).resolves.toMatchObject({ width: 400 });
    }
  });

  it('junk between header segments (a benign warning real uploads have) still decodes: a cut behind it is hashed as a crop would be', async () => {
    const jpeg = await picture().jpeg().toBuffer();
    const junk = Buffer.from([1, 2, 3]);
    await expect(decodeImage(Buffer.concat([jpeg.subarray(0, 2), junk, jpeg.subarray(2)]))).resolves.toMatchObject({ format: 'jpeg', width: 400 });
    // libvips passes on only the first libjpeg warning: the cut behind it is not seen (best effort).
    await expect(decodeImage(Buffer.concat([jpeg.subarray(0, 2), junk, jpeg.subarray(2, jpeg.length >> 1), EOI]))).resolves.toMatchObject({ width: 400 });
  });

  it('whole files with warnings that leave the pixels whole still decode: junk before EOI, bytes after it', async () => {
    const progressive = await picture().jpeg({ progressive: true }).toBuffer();
    const junkBeforeEoi = Buffer.concat([progressive.subarray(0, -2), Buffer.alloc(34, 0x55), EOI]);
    await expect(sharp(junkBeforeEoi, { failOn: 'warning' }).raw().toBuffer()).rejects.toThrow(/extraneous bytes before marker 0xd9/);
    await expect(decodeImage(junkBeforeEoi)).resolves.toMatchObject({ format: 'jpeg', width: 400 });
    const baseline = await picture().jpeg().toBuffer();
    await expect(decodeImage(Buffer.concat([baseline, Buffer.from('trailing bytes after the image')]))).resolves.toMatchObject({ width: 400 });
    const turned = await picture().withMetadata({ orientation: 6 }).jpeg({ progressive: true, mozjpeg: true }).toBuffer();
    await expect(decodeImage(turned)).resolves.toMatchObject({ width: 300, height: 400 });
  });
});
