/**
 * Builds HEIF files holding several images (ISO/IEC 23008-12 items), the way a crafted upload
 * would: sharp writes one image per file, so the images of single-image AVIFs are moved into one
 * file. Test-only; it reads the box layout libheif writes (iloc version 0, 4-byte offsets and
 * lengths, one extent per item) and throws on anything else rather than guess.
 */

interface Box {
  type: string;
  body: Buffer;
  /** The whole box, header included. */
  bytes: Buffer;
}

function readBoxes(buffer: Buffer, start = 0): Box[] {
  const boxes: Box[] = [];
  for (let at = start; at + 8 <= buffer.length; ) {
    const size = buffer.readUInt32BE(at);
    if (size < 8 || at + size > buffer.length) throw new Error(`heif harness: unsupported box size ${size} at ${at}`);
    boxes.push({ type: buffer.toString('latin1', at + 4, at + 8), body: buffer.subarray(at + 8, at + size), bytes: buffer.subarray(at, at + size) });
    at += size;
  }
  return boxes;
}

function child(boxes: Box[], type: string): Box {
  const found = boxes.find((box) => box.type === type);
  if (!found) throw new Error(`heif harness: no ${type} box`);
  return found;
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length + 8);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

const u16 = (value: number) => Buffer.from([value >> 8, value & 0xff]);
const u32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
};
/** A full box's version 0 and flags 0. */
const FULL_BOX_V0 = Buffer.alloc(4);

interface HeifImage {
  ftyp: Box;
  hdlr: Box;
  /** The item's properties (ispe, av1C, pixi, ...), whole boxes, in association order. */
  properties: Buffer[];
  data: Buffer;
}

function readSingleImage(file: Buffer): HeifImage {
  const top = readBoxes(file);
  const meta = readBoxes(child(top, 'meta').body, 4);
  const iloc = child(meta, 'iloc').body;
  // version 0; offset_size 4, length_size 4; base_offset_size 4; one item with one extent.
  if (iloc[0] !== 0 || iloc[4] !== 0x44 || iloc[5] !== 0x40 || iloc.readUInt16BE(6) !== 1 || iloc.readUInt16BE(16) !== 1) {
    throw new Error('heif harness: unexpected iloc layout');
  }
  const offset = iloc.readUInt32BE(12) + iloc.readUInt32BE(18);
  const length = iloc.readUInt32BE(22);
  const ipco = child(readBoxes(child(meta, 'iprp').body), 'ipco');
  return {
    ftyp: child(top, 'ftyp'),
    hdlr: child(meta, 'hdlr'),
    properties: readBoxes(ipco.body).map((property) => property.bytes),
    data: file.subarray(offset, offset + length),
  };
}

/**
 * One HEIF holding the image of each single-image AVIF given, in order, the first as the primary
 * item (what a plain read of the file, and sharp's metadata, describes).
 */
export function multiImageHeif(avifs: readonly Buffer[]): Buffer {
  const images = avifs.map(readSingleImage);
  const itemInfo = (id: number) => box('infe', Buffer.from([2, 0, 0, 0]), u16(id), u16(0), Buffer.from('av01', 'latin1'), Buffer.from([0]));
  const iinf = box('iinf', FULL_BOX_V0, u16(images.length), ...images.map((_, i) => itemInfo(i + 1)));
  let propertyNumber = 0;
  // Each item is associated with its own properties (1-based indexes into ipco); the first, the codec configuration, is essential.
  const associations = images.map((image, i) => {
    const indexes = image.properties.map((_, k) => (k === 0 ? 0x80 : 0) | ++propertyNumber);
    return Buffer.concat([u16(i + 1), Buffer.from([indexes.length, ...indexes])]);
  });
  const iprp = box('iprp', box('ipco', ...images.flatMap((image) => image.properties)), box('ipma', FULL_BOX_V0, u32(images.length), ...associations));
  const pitm = box('pitm', FULL_BOX_V0, u16(1));
  const iloc = (offsets: number[]) =>
    box('iloc', FULL_BOX_V0, Buffer.from([0x44, 0x40]), u16(images.length), ...images.map((image, i) => Buffer.concat([u16(i + 1), u16(0), u32(0), u16(1), u32(offsets[i]!), u32(image.data.length)])));
  const meta = (offsets: number[]) => box('meta', FULL_BOX_V0, images[0]!.hdlr.bytes, pitm, iloc(offsets), iinf, iprp);
  const ftyp = images[0]!.ftyp.bytes;
  // The item offsets point into mdat, which follows meta, whose size does not depend on them.
  let at = ftyp.length + meta(images.map(() => 0)).length + 8;
  const offsets = images.map((image) => {
    const offset = at;
    at += image.data.length;
    return offset;
  });
  return Buffer.concat([ftyp, meta(offsets), box('mdat', ...images.map((image) => image.data))]);
}
