/**
 * An AVIF may hold, besides its still items, an image sequence: a track in a top-level `moov` box.
 * libavif (Chrome) shows the sequence when the major brand is not 'avif' ('mif1' or 'msf1' with
 * 'avis' compatible), while libheif (libvips, sharp) decodes the still primary item alone: a
 * benign still in front of a sequence holding something else was hashed on the still, and allowed.
 * The sequence is not decoded here, so such a file is refused, image_unsupported_format, from its
 * box headers before any decode, as libvips already refuses a file whose major brand is 'avis'.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../../src/errors.js';
import { decodeImage } from '../../src/images/index.js';

function box(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length + 8);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/** A stand-in sequence track: a moov holding an mvhd; what matters is that libavif would look for one. */
const moov = box('moov', box('mvhd', Buffer.alloc(100)));

/** A 64x64 AVIF as sharp writes it, its ftyp (28 bytes, so item offsets stay put) of the given brands. */
async function still(major: string, compatible: [string, string, string]): Promise<Buffer> {
  const avif = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'white' } }).avif({ quality: 30, effort: 0 }).toBuffer();
  expect(avif.readUInt32BE(0)).toBe(28);
  return Buffer.concat([box('ftyp', Buffer.from(`${major}\0\0\0\0${compatible.join('')}`, 'latin1')), avif.subarray(28)]);
}

async function refusal(bytes: Buffer): Promise<ScanError> {
  const error = await decodeImage(bytes).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ScanError);
  return error as ScanError;
}

describe('an AVIF holding an image sequence (a moov box)', () => {
  it("a still primary item with a sequence track, major brand 'mif1' or 'msf1': refused, permanent", async () => {
    for (const major of ['mif1', 'msf1']) {
      const plain = await still(major, ['avif', 'avis', 'miaf']);
      // Without the track, libheif decodes it, and so does the scan; with it, sharp still would.
      await expect(decodeImage(plain)).resolves.toMatchObject({ format: 'heif', width: 64 });
      const withTrack = Buffer.concat([plain, moov]);
      await expect(sharp(withTrack).metadata()).resolves.toMatchObject({ format: 'heif', width: 64 });
      const error = await refusal(withTrack);
      expect(error).toMatchObject({ code: 'image_unsupported_format', permanent: true, message: 'AVIF/HEIF image sequence (a moov track) is not decoded', detail: { format: 'heif', box: 'moov' } });
    }
  });

  it('the moov box is found after a box of 64-bit size, and as a last box of size 0', async () => {
    const plain = await still('mif1', ['avif', 'avis', 'miaf']);
    const large = Buffer.alloc(16 + 8);
    large.writeUInt32BE(1);
    large.write('free', 4, 'latin1');
    large.writeUInt32BE(0, 8);
    large.writeUInt32BE(large.length, 12);
    expect((await refusal(Buffer.concat([plain, large, moov]))).code).toBe('image_unsupported_format');
    const toTheEnd = Buffer.from(moov);
    toTheEnd.writeUInt32BE(0);
    expect((await refusal(Buffer.concat([plain, toTheEnd]))).code).toBe('image_unsupported_format');
  });

  it("as a file whose major brand is 'avis' already was (libvips does not take it)", async () => {
    const error = await refusal(Buffer.concat([await still('avis', ['avif', 'mif1', 'miaf']), moov]));
    expect(error.code).toBe('image_unsupported_format');
    expect((await refusal(await still('avis', ['avif', 'mif1', 'miaf']))).code).toBe('image_unsupported_format');
  });

  it('a file of more top-level boxes than the walk reads is refused too (a moov could follow them)', async () => {
    const plain = await still('mif1', ['avif', 'miaf', 'miaf']);
    const free = box('free', Buffer.alloc(0));
    await expect(decodeImage(Buffer.concat([plain, ...Array.from({ length: 20 }, () => free)]))).resolves.toMatchObject({ format: 'heif' });
    const error = await refusal(Buffer.concat([plain, ...Array.from({ length: 64 }, () => free)]));
    expect(error).toMatchObject({ code: 'image_unsupported_format', detail: { format: 'heif', limitBoxes: 64 } });
  });
});
