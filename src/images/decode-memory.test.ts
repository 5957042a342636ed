import { describe, expect, it } from 'vitest';
import { heldWholeDecode, type DecodeHeader } from './decode-memory.js';

const header = (fields: Partial<DecodeHeader>): DecodeHeader => ({ format: 'png', width: 7000, height: 7000, channels: 3, depth: 'uchar', isProgressive: false, ...fields });
const MB = 1_000_000;

describe('heldWholeDecode', () => {
  it('streaming decodes hold no whole image: baseline JPEG, non-interlaced PNG, WebP, TIFF', () => {
    expect(heldWholeDecode(header({ format: 'jpeg', chromaSubsampling: '4:4:4' }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'png', channels: 4, depth: 'ushort' }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'webp', channels: 4 }))).toBeUndefined();
    expect(heldWholeDecode(header({ format: 'tiff' }))).toBeUndefined();
  });

  it('interlaced PNG: width x height x channels x bytes per sample', () => {
    expect(heldWholeDecode(header({ isProgressive: true, channels: 4, depth: 'ushort' }))).toEqual({ held: 'interlaced PNG', bytes: 392 * MB });
    expect(heldWholeDecode(header({ isProgressive: true }))).toEqual({ held: 'interlaced PNG', bytes: 147 * MB });
  });

  it('progressive JPEG: 2 bytes per coefficient, chroma planes a quarter each when subsampled', () => {
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, chromaSubsampling: '4:4:4' }))!.bytes).toBe(294 * MB);
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, chromaSubsampling: '4:2:0' }))!.bytes).toBe(147 * MB);
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, channels: 4, chromaSubsampling: '4:2:0:4' }))!.bytes).toBe(245 * MB);
    expect(heldWholeDecode(header({ format: 'jpeg', isProgressive: true, channels: 1 }))!.bytes).toBe(98 * MB);
  });

  it('GIF frames as RGBA; HEIF/AVIF at six copies of the decoded image', () => {
    expect(heldWholeDecode(header({ format: 'gif', channels: 4 }))).toEqual({ held: 'GIF frame', bytes: 196 * MB });
    expect(heldWholeDecode(header({ format: 'heif', width: 3500, height: 3500 }))).toEqual({ held: 'HEIF/AVIF', bytes: 220.5 * MB });
  });
});
