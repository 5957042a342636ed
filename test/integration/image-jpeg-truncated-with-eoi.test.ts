/**
 * failOn 'error' (the default) rejects a JPEG that simply ends. One cut short with its EOI marker
 * put back on is only a libjpeg warning ("Corrupt JPEG data: premature end of data segment"): it
 * decodes with the blocks libjpeg never read grey, as README says (a crop's effect). Telling that
 * warning per decode was tried and dropped: sharp collects libvips warnings in one queue for the
 * whole process, so under concurrent decodes a good image was refused for another's warning.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/images/index.js';

const EOI = Buffer.from([0xff, 0xd9]);
const picture = () => sharp({ create: { width: 400, height: 300, channels: 3, background: 'grey', noise: { type: 'gaussian', mean: 128, sigma: 60 } } });

describe('a JPEG cut short', () => {
  it('without its EOI marker: image_corrupt', async () => {
    const jpeg = await picture().jpeg({ progressive: true }).toBuffer();
    await expect(decodeImage(jpeg.subarray(0, jpeg.length >> 1))).rejects.toMatchObject({ code: 'image_corrupt' });
  });

  it('with its EOI marker put back on: decodes (the missing blocks grey), the same whatever else decodes at once', async () => {
    const jpeg = await picture().jpeg().toBuffer();
    const cut = Buffer.concat([jpeg.subarray(0, jpeg.length >> 1), EOI]);
    const junk = Buffer.concat([jpeg.subarray(0, 2), Buffer.from([1, 2, 3]), jpeg.subarray(2)]);
    const outcomes = await Promise.all([cut, junk, cut, junk].map((bytes) => decodeImage(bytes).then((decoded) => decoded.format, (error: { code?: string }) => error.code)));
    expect(outcomes).toEqual(['jpeg', 'jpeg', 'jpeg', 'jpeg']);
  });

  it('whole files with warnings still decode: junk before EOI, bytes after it', async () => {
    const progressive = await picture().jpeg({ progressive: true }).toBuffer();
    await expect(decodeImage(Buffer.concat([progressive.subarray(0, -2), Buffer.alloc(34, 0x55), EOI]))).resolves.toMatchObject({ format: 'jpeg', width: 400 });
    const baseline = await picture().jpeg().toBuffer();
    await expect(decodeImage(Buffer.concat([baseline, Buffer.from('trailing bytes after the image')]))).resolves.toMatchObject({ width: 400 });
  });
});
