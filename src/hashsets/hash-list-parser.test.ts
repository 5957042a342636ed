import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hashToHex } from '../matching/hash-bits.js';
import { readHashList, splitCsvLine, type HashLineResult } from './hash-list-parser.js';

const A = 'f'.repeat(64);
const B = '0123456789abcdef'.repeat(4);

async function parse(text: string, format: 'hex' | 'csv'): Promise<HashLineResult[]> {
  const results: HashLineResult[] = [];
  for await (const result of readHashList(Readable.from([text]), format, 256)) results.push(result);
  return results;
}

describe('hash lists', () => {
  it('reads plain hex lists: ids default to the lower-case hex, comments and blanks skipped', async () => {
    const results = await parse(`# exported\n${A.toUpperCase()}\n\n${B}\nnot-hex\n${A.slice(2)}\n`, 'hex');
    expect(results).toEqual([
      { ok: true, entry: expect.objectContaining({ line: 2, id: A }) },
      { ok: true, entry: expect.objectContaining({ line: 4, id: B }) },
      { ok: false, bad: { line: 5, reason: expect.stringContaining('expected 64 hex digits') } },
      { ok: false, bad: { line: 6, reason: expect.stringContaining('expected 64 hex digits') } },
    ]);
  });

  it('reads CSV with a header in any column order, quoted cells and a quality column', async () => {
    const csv = `id,quality,hash,tags\nx1,90,${A},"media_type_photo, bad"\nx2,abc,${B},\nx3,40,${B},\n`;
    const results = await parse(csv, 'csv');
    expect(results[0]).toEqual({ ok: true, entry: expect.objectContaining({ line: 2, id: 'x1', label: 'media_type_photo, bad', quality: 90 }) });
    expect(hashToHex((results[0] as { entry: { hash: Uint8Array } }).entry.hash)).toBe(A);
    expect(results[1]).toEqual({ ok: false, bad: { line: 3, reason: expect.stringContaining('quality') } });
    expect(results[2]).toEqual({ ok: true, entry: expect.objectContaining({ line: 4, id: 'x3', quality: 40 }) });
  });

  it('reads header-less CSV as hash, label, id', async () => {
    const results = await parse(`${A},logo,L1\n${B}\n,missing\n`, 'csv');
    expect(results[0]).toEqual({ ok: true, entry: expect.objectContaining({ id: 'L1', label: 'logo' }) });
    expect(results[1]).toEqual({ ok: true, entry: expect.objectContaining({ id: B }) });
    expect(results[2]).toEqual({ ok: false, bad: { line: 3, reason: 'no hash column' } });
  });

  it('splits CSV lines with quotes and escaped quotes', () => {
    expect(splitCsvLine('a,"b,c","say ""hi""",')).toEqual(['a', 'b,c', 'say "hi"', '']);
  });
});
