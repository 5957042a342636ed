import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hashToHex } from '../matching/hash-bits.js';
import { quoteCsvCell } from '../formats/csv.js';
import type { HashAlgorithm } from './hash-set-config.js';
import { detectHashListFormat, entryIdRefusal, HashListHeaderError, HashListSettingsError, MAX_ID_LENGTH, readHashList, readHashSetSettings, type HashLineResult, type HashListFormat } from './hash-list-parser.js';

const A = 'f'.repeat(64);
const B = '0123456789abcdef'.repeat(4);

async function parse(text: string | string[], format: HashListFormat, algorithm: HashAlgorithm = 'pdq'): Promise<HashLineResult[]> {
  const results: HashLineResult[] = [];
  for await (const result of readHashList(Readable.from(typeof text === 'string' ? [text] : text), format, algorithm)) results.push(result);
  return results;
}

/** The hex of each entry read, or the reason of each bad line. */
const outcomes = (results: HashLineResult[]): Array<{ line: number; hex?: string; id?: string; reason?: string }> =>
  results.map((result) => (result.ok ? { line: result.entry.line, id: result.entry.id, hex: hashToHex(result.entry.hash) } : result.bad));

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

  it('refuses a hex list line holding more than its hash, rather than dropping the rest (a PDQ quality with it)', async () => {
    const results = await parse(`${A},3,blank.jpg\n${B} logo\n  ${A}  \n`, 'hex');
    expect(results).toEqual([
      { ok: false, bad: { line: 1, reason: expect.stringContaining('a hex list holds one hash a line and this line has more') } },
      { ok: false, bad: { line: 2, reason: expect.stringContaining('--format csv or --format pdq-photo-hasher') } },
      { ok: true, entry: expect.objectContaining({ line: 3, id: A }) },
    ]);
  });

  it('reads a quality in decimal digits only, and ids from the hash without the spaces around it', async () => {
    const results = await parse(`hash,quality\n${A},0x50\n${A},8e1\n${A},80.0\n" ${B} ", 80 \n`, 'csv');
    expect(results.slice(0, 3)).toEqual([2, 3, 4].map((line) => ({ ok: false, bad: { line, reason: expect.stringContaining('quality must be an integer 0-100') } })));
    expect(results[3]).toEqual({ ok: true, entry: expect.objectContaining({ line: 5, id: B, quality: 80 }) });
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

  it('reads the fourth column of header-less CSV as quality, as it does with a header (hash,label,id[,quality])', async () => {
    const rows = `${A},flat-blank,e1,12\n${B},real,e2,95\n${B},no-quality,e3\n${B},bad,e4,high\n`;
    const expected = [
      { ok: true, entry: expect.objectContaining({ line: 1, id: 'e1', label: 'flat-blank', quality: 12 }) },
      { ok: true, entry: expect.objectContaining({ line: 2, id: 'e2', label: 'real', quality: 95 }) },
      { ok: true, entry: expect.not.objectContaining({ quality: expect.anything() }) },
      { ok: false, bad: { line: 4, reason: expect.stringContaining('quality') } },
    ];
    expect(await parse(rows, 'csv')).toEqual(expected);
    // The same rows under a header read the same (lines one further down).
    const withHeader = await parse(`hash,label,id,quality\n${rows}`, 'csv');
    expect(withHeader.map((result) => (result.ok ? { ...result.entry, line: result.entry.line - 1 } : { ...result.bad, line: result.bad.line - 1 }))).toEqual(
      (await parse(rows, 'csv')).map((result) => (result.ok ? result.entry : result.bad)),
    );
  });

  it('reads a record spanning lines whatever the chunks the file arrives in, and numbers the lines after it right', async () => {
    const csv = `\uFEFFhash,label,id\r\n${A},"one\r\n\r\n# two",a1\r\nzz,x,bad\r\n${B},"three",b1`;
    const expected = [
      { ok: true, entry: expect.objectContaining({ line: 2, id: 'a1', label: 'one\r\n\r\n# two' }) },
      { ok: false, bad: { line: 5, reason: expect.stringContaining('expected 64 hex digits') } },
      { ok: true, entry: expect.objectContaining({ line: 6, id: 'b1', label: 'three' }) },
    ];
    expect(await parse(csv, 'csv')).toEqual(expected);
    expect(await parse(csv.match(/[^]{1,5}/g)!, 'csv')).toEqual(expected);
  });

  it('reads quoted fields across lines (RFC 4180), keeping their line breaks and spaces, numbering records by their first line', async () => {
    const csv = `hash,label,id\r\n${A},"line one\nline two\r\n  indented ",case-42\r\n# a "comment\n${B}, plain ,b1\n`;
    expect(await parse(csv, 'csv')).toEqual([
      { ok: true, entry: expect.objectContaining({ line: 2, id: 'case-42', label: 'line one\nline two\r\n  indented ' }) },
      { ok: true, entry: expect.objectContaining({ line: 6, id: 'b1', label: 'plain' }) },
    ]);
  });

  it('reports a quoted field that never closes as one bad line and reads on from the next line', async () => {
    expect(await parse(`${A},"unclosed,a1\n${B},fine,b1\n`, 'csv')).toEqual([
      { ok: false, bad: { line: 1, reason: expect.stringContaining('quoted field is not closed') } },
      { ok: true, entry: expect.objectContaining({ line: 2, id: 'b1', label: 'fine' }) },
    ]);
  });

  it("reads an export's provenance and disabled_reason columns", async () => {
    const header = 'hash,label,id,source,added_at,added_by,disabled_reason';
    const csv = `${header}\n${A},logo,fp-1,file:clouds.jpg,2026-11-24T03:21:20.716Z,root,false positive\n${B},,b1,,,,\n${B},,b2,,yesterday,,\n`;
    const results = await parse(csv, 'csv');
    expect(results[0]).toEqual({
      ok: true,
      entry: expect.objectContaining({
        id: 'fp-1',
        provenance: { source: 'file:clouds.jpg', addedAt: '2026-11-24T03:21:20.716Z', addedBy: 'root' },
        disabledReason: 'false positive',
      }),
    });
    // Empty provenance cells stay empty (an importer fills in its own only when the columns are missing).
    expect((results[1] as { entry: object }).entry).toEqual({ line: 3, id: 'b1', hash: expect.any(Uint8Array), provenance: {} });
    expect((await parse(`hash,id\n${A},a1\n`, 'csv'))[0]).not.toHaveProperty('entry.provenance');
    expect(results[2]).toEqual({ ok: false, bad: { line: 4, reason: expect.stringContaining('added_at') } });
  });

  it('quotes the cells that need it, so that they read back the same', async () => {
    const label = ' say "hi",\nbye ';
    expect(quoteCsvCell(label)).toBe('" say ""hi"",\nbye "');
    expect(await parse(`hash,label,id\n${A},${quoteCsvCell(label)},${quoteCsvCell('id 1')}\n`, 'csv')).toEqual([
      { ok: true, entry: expect.objectContaining({ id: 'id 1', label }) },
    ]);
  });

  it("reads pdq-photo-hasher output: hash,quality,filename, the quality required, the file name (commas and quotes included) the id", async () => {
    const lines = `${A},100,bridge.jpg\n${B},20,photos/a, "b".png\n${A},high,x.jpg\n${A},,x.jpg\n${B},90\n${A},100,\n`;
    expect(await parse(lines, 'pdq-photo-hasher')).toEqual([
      { ok: true, entry: { line: 1, id: 'bridge.jpg', hash: expect.any(Uint8Array), quality: 100 } },
      { ok: true, entry: { line: 2, id: 'photos/a, "b".png', hash: expect.any(Uint8Array), quality: 20 } },
      { ok: false, bad: { line: 3, reason: 'quality must be an integer 0-100, got "high"' } },
      { ok: false, bad: { line: 4, reason: 'no quality (pdq-photo-hasher output is hash,quality,filename)' } },
      { ok: false, bad: { line: 5, reason: 'expected hash,quality,filename (pdq-photo-hasher output)' } },
      { ok: true, entry: { line: 6, id: A, hash: expect.any(Uint8Array), quality: 100 } },
    ]);
  });
});

describe("CSV hash columns: the set's algorithm's, never the other's", () => {
  // Both 256 bits: read from the wrong column, a hash loads without a word and never matches.
  const PDQ = A;
  const BLOCKHASH = B;

  it('reads the pdq column in a PDQ set and the blockhash column in a blockhash set from a file holding both (`abuse-scan hash --json`\'s fields)', async () => {
    const csv = `id,blockhash,pdq,pdq_quality\nclouds,${BLOCKHASH},${PDQ},100\n`;
    expect(outcomes(await parse(csv, 'csv', 'pdq'))).toEqual([{ line: 2, id: 'clouds', hex: PDQ }]);
    expect((await parse(csv, 'csv', 'pdq'))[0]).toMatchObject({ ok: true, entry: { quality: 100 } });
    expect(outcomes(await parse(csv, 'csv', 'blockhash'))).toEqual([{ line: 2, id: 'clouds', hex: BLOCKHASH }]);
    // In either order, in any case.
    expect(outcomes(await parse(`ID,PDQ,Blockhash\nclouds,${PDQ},${BLOCKHASH}\n`, 'csv', 'blockhash'))).toEqual([{ line: 2, id: 'clouds', hex: BLOCKHASH }]);
  });

  it("prefers the column named for the set's algorithm over a generic one, and never takes the other algorithm's over a generic one", async () => {
    expect(outcomes(await parse(`hash,pdq,id\n${BLOCKHASH},${PDQ},x\n`, 'csv', 'pdq'))).toEqual([{ line: 2, id: 'x', hex: PDQ }]);
    expect(outcomes(await parse(`blockhash,hash,id\n${BLOCKHASH},${PDQ},x\n`, 'csv', 'pdq'))).toEqual([{ line: 2, id: 'x', hex: PDQ }]);
    expect(outcomes(await parse(`pdq,signal_value,id\n${PDQ},${BLOCKHASH},x\n`, 'csv', 'blockhash'))).toEqual([{ line: 2, id: 'x', hex: BLOCKHASH }]);
  });

  it("refuses a header whose only hash column is the other algorithm's, naming the column and the set's algorithm", async () => {
    for (const [csv, algorithm, column, line] of [
      [`id,blockhash\nclouds,${BLOCKHASH}\n`, 'pdq', 'blockhash', 1],
      [`# partner feed\nPDQ,label\n${PDQ},x\n`, 'blockhash', 'pdq', 2],
      [`signal_type,blockhash\nblockhash,${BLOCKHASH}\n`, 'pdq', 'blockhash', 1],
    ] as const) {
      const read = parse(csv, 'csv', algorithm);
      await expect(read).rejects.toBeInstanceOf(HashListHeaderError);
      await expect(read).rejects.toMatchObject({
        line,
        column,
        algorithm,
        message: `the header's hash column "${column}" holds ${column} hashes and this is a ${algorithm} set (name the ${algorithm} hashes' column "${algorithm}" or "hash")`,
      });
    }
  });

  it("reads a signal_type column: rows of another type are bad lines saying so, the set's own type read in any case", async () => {
    const csv = `signal_type,signal_value,id\npdq,${PDQ},p1\nphoto_md5,d41d8cd98f00b204e9800998ecf8427e,m1\nHASH_PDQ,${PDQ},p2\n,${PDQ},p3\nblockhash,${BLOCKHASH},b1\n`;
    expect(outcomes(await parse(csv, 'csv', 'pdq'))).toEqual([
      { line: 2, id: 'p1', hex: PDQ },
      { line: 3, reason: 'signal_type photo_md5 is not pdq' },
      { line: 4, id: 'p2', hex: PDQ },
      { line: 5, reason: 'no signal_type (this set holds pdq hashes)' },
      { line: 6, reason: 'signal_type blockhash is not pdq' },
    ]);
    expect(outcomes(await parse(csv, 'csv', 'blockhash'))).toEqual([
      { line: 2, reason: 'signal_type pdq is not blockhash' },
      { line: 3, reason: 'signal_type photo_md5 is not blockhash' },
      { line: 4, reason: 'signal_type HASH_PDQ is not blockhash' },
      { line: 5, reason: 'no signal_type (this set holds blockhash hashes)' },
      { line: 6, id: 'b1', hex: BLOCKHASH },
    ]);
    expect(outcomes(await parse(`hash,Signal_Type\n${BLOCKHASH},BlockHash\n${PDQ},pdq\n`, 'csv', 'blockhash'))).toEqual([
      { line: 2, id: BLOCKHASH, hex: BLOCKHASH },
      { line: 3, reason: 'signal_type pdq is not blockhash' },
    ]);
  });

  it('reads header-less CSV and hex lists as before in either set (no column names, no type)', async () => {
    for (const algorithm of ['pdq', 'blockhash'] as const) {
      expect(outcomes(await parse(`${A},logo,L1\n`, 'csv', algorithm))).toEqual([{ line: 1, id: 'L1', hex: A }]);
      expect(outcomes(await parse(`${B}\n`, 'hex', algorithm))).toEqual([{ line: 1, id: B, hex: B }]);
    }
  });
});

describe('detectHashListFormat: what a file\'s first record says, whatever its name', () => {
  it('a CSV header naming a hash column is csv: our export, the README\'s columns, another order, a BOM, comments first', () => {
    for (const head of [
      `hash,label,id,source,added_at,added_by,disabled_reason\n${A},,x,,,,\n`,
      'hash,label,id\n',
      'HASH,Label\r\n',
      `\uFEFF# exported by abuse-scan\n\nid,hash,tags,quality\n${A},x\n`,
      'signal_type,signal_value\npdq,' + A,
      ' hash , label \n',
      // Named for one algorithm: a header in either set (the parser then refuses the other's column).
      `id,blockhash,pdq,pdq_quality\nclouds,${B},${A},100\n`,
      'id,blockhash\n',
      'pdq,label\n',
    ]) {
      expect(detectHashListFormat(head, 'pdq')).toBe('csv');
      expect(detectHashListFormat(head, 'blockhash')).toBe('csv');
    }
  });

  it('hash,quality,filename with no header is pdq-photo-hasher output in a PDQ set only', () => {
    expect(detectHashListFormat(`${A},100,bridge.jpg\n`, 'pdq')).toBe('pdq-photo-hasher');
    expect(detectHashListFormat(`${A.toUpperCase()},0,x\n`, 'pdq')).toBe('pdq-photo-hasher');
    expect(detectHashListFormat(`${A},100,bridge.jpg\n`, 'blockhash')).toBeUndefined();
  });

  it('anything else says nothing: hex lists, header-less hash,label,id, a quality out of range, an empty file', () => {
    for (const head of [`${A}\n${B}\n`, `${A},logo,L1\n`, `${A},101,x.jpg\n`, `${A},50\n`, `${A},50,x.jpg,90\n`, `${A},-1,x\n`, `${A},5.0,x\n`, `${A},100,\n`, 'hash\n', '', '# only a comment\n', `zz,100,x.jpg\n`]) {
      expect(detectHashListFormat(head, 'pdq')).toBeUndefined();
    }
  });

  it('refuses an id over 256 characters with the check HashSetStore.add applies (entryIdRefusal), and reads an empty id cell as no id', async () => {
    const longest = 'i'.repeat(MAX_ID_LENGTH);
    const results = await parse(`hash,id\n${A},${longest}\n${B},${longest}x\n${A},\n`, 'csv');
    expect(results).toEqual([
      { ok: true, entry: expect.objectContaining({ line: 2, id: longest }) },
      { ok: false, bad: { line: 3, reason: entryIdRefusal(`${longest}x`) } },
      // An empty cell is no id: the entry is the hash's. So an empty id cannot come back as itself.
      { ok: true, entry: expect.objectContaining({ line: 4, id: A }) },
    ]);
    expect(entryIdRefusal(longest)).toBeUndefined();
    expect(entryIdRefusal(`${longest}x`)).toBe('id longer than 256 characters');
    expect(entryIdRefusal('')).toMatch(/^id is empty/);
  });
});

describe("a set's settings line (`# abuse-scan hash set: ...`, what `hashset export` writes first)", () => {
  const line = '# abuse-scan hash set: algorithm=pdq kind=block threshold=8 min_quality=60 flood_max_items=1 flood_window_seconds=600';

  it('is a comment to the parser in every format: skipped, and the lines after it numbered as in the file', async () => {
    expect(outcomes(await parse(`${line}\nhash,label,id\n${A},x,e1\n`, 'csv'))).toEqual([{ line: 3, id: 'e1', hex: A }]);
    expect(outcomes(await parse(`${line}\n${A},x,e1\n`, 'csv'))).toEqual([{ line: 2, id: 'e1', hex: A }]);
    expect(outcomes(await parse(`${line}\n${A}\n`, 'hex'))).toEqual([{ line: 2, id: A, hex: A }]);
    expect(outcomes(await parse(`${line}\n${A},100,x.jpg\n`, 'pdq-photo-hasher'))).toEqual([{ line: 2, id: 'x.jpg', hex: A }]);
    // Format detection looks past it to the first record.
    expect(detectHashListFormat(`${line}\nhash,label,id\n`, 'pdq')).toBe('csv');
    expect(detectHashListFormat(`\uFEFF${line}\r\n${A},100,x.jpg\r\n`, 'pdq')).toBe('pdq-photo-hasher');
    expect(detectHashListFormat(`${line}\n${A}\n`, 'pdq')).toBeUndefined();
  });

  it('reads every setting that changes matching, from the comments before the first record (BOM, CRLF, other comments around it)', () => {
    const settings = { algorithm: 'pdq', kind: 'block', threshold: 8, minQuality: 60, flood: { maxItems: 1, windowSeconds: 600 } };
    expect(readHashSetSettings(`${line}\nhash,label,id\n`)).toEqual({ line: 1, settings });
    expect(readHashSetSettings(`\uFEFF# saved by ops\r\n\r\n${line}\r\nhash,label,id\r\n`)).toEqual({ line: 3, settings });
    // Only what the line gives: the rest is left to the set's (or the default) settings.
    expect(readHashSetSettings('#abuse-scan hash set: threshold=40\n')).toEqual({ line: 1, settings: { threshold: 40 } });
    expect(readHashSetSettings('# ABUSE-SCAN HASH SET: Algorithm=BLOCKHASH kind=Negative\n')).toEqual({ line: 1, settings: { algorithm: 'blockhash', kind: 'negative' } });
  });

  it('is absent from files without one, and a settings line after the first record is an ordinary comment', () => {
    for (const head of ['', 'hash,label,id\n', `${A}\n`, '# exported by hand\n# abuse-scan hash set is our tool\nhash\n', `hash,label,id\n${line}\n`]) {
      expect(readHashSetSettings(head)).toBeUndefined();
    }
  });

  it('refuses a settings line it cannot read whole, with its line number: an unknown key (it could change matching), a bad value, a key twice, two lines', () => {
    const cases: Array<[string, RegExp]> = [
      ['# abuse-scan hash set: threshold=8 max_distance=4', /^settings line: unknown setting "max_distance" \(known: algorithm, kind, threshold, min_quality, flood_max_items, flood_window_seconds;/],
      ['# abuse-scan hash set: threshold=8 threshold=9', /^settings line: threshold given twice$/],
      ['# abuse-scan hash set: threshold', /^settings line: "threshold" is not key=value$/],
      ['# abuse-scan hash set: =8', /^settings line: "=8" is not key=value$/],
      ['# abuse-scan hash set: threshold=129', /^settings line: threshold must be an integer 0-128 in decimal digits, got "129"$/],
      ['# abuse-scan hash set: threshold=0x8', /threshold must be an integer 0-128/],
      ['# abuse-scan hash set: threshold=', /threshold must be an integer 0-128 in decimal digits, got ""$/],
      ['# abuse-scan hash set: min_quality=101', /min_quality must be an integer 0-100/],
      ['# abuse-scan hash set: flood_max_items=0', /flood_max_items must be an integer 1 or more in decimal digits, got "0"$/],
      ['# abuse-scan hash set: flood_window_seconds=-5', /flood_window_seconds must be an integer 1 or more/],
      ['# abuse-scan hash set: algorithm=md5', /^settings line: algorithm must be one of pdq, blockhash, got "md5"$/],
      ['# abuse-scan hash set: kind=positive', /^settings line: kind must be one of block, review, negative, got "positive"$/],
    ];
    for (const [text, message] of cases) {
      const reading = () => readHashSetSettings(`# saved by ops\n${text}\nhash\n`);
      expect(reading).toThrow(HashListSettingsError);
      expect(reading).toThrow(message);
      try {
        reading();
      } catch (error) {
        expect((error as HashListSettingsError).line).toBe(2);
      }
    }
    expect(() => readHashSetSettings(`${line}\n# abuse-scan hash set: threshold=9\nhash\n`)).toThrow(/a second settings line \(the first is line 1\)/);
  });
});
