import { crc32 } from 'node:zlib';

/** One PNG chunk record: length, type, data, CRC over type and data (for files built by hand). */
export function pngChunk(type: string, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const record = Buffer.alloc(12 + data.length);
  record.writeUInt32BE(data.length, 0);
  record.write(type, 4, 'latin1');
  record.set(data, 8);
  record.writeUInt32BE(crc32(record.subarray(4, 8 + data.length)), 8 + data.length);
  return record;
}
