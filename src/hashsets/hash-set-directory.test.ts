import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hexToHash } from '../matching/hash-bits.js';
import { MemoryFloodGuard } from './flood-guard.js';
import { HashSetFileError, HashSetFileNameError, loadHashSetDirectory } from './hash-set-directory.js';
import type { HashSet } from './hash-set.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('loadHashSetDirectory', () => {
  it('loads <name>.<algorithm>[.<kind>].csv files, skipping bad lines with their numbers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    writeFileSync(join(dir, 'bad.pdq.csv'), `hash,label,id\n${A},spam,s1\nzz,x,s2\n${B},,s1\n`);
    writeFileSync(join(dir, 'logos.pdq.negative.csv'), `${B},our logo,l1\n`);
    writeFileSync(join(dir, 'edits.blockhash.review.csv'), `${A}\n`);
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const { sets, skipped } = await loadHashSetDirectory(dir);
    expect(sets.map((s) => [s.config.name, s.config.algorithm, s.config.kind, s.size])).toEqual([
      ['bad', 'pdq', 'block', 1],
      ['edits', 'blockhash', 'review', 1],
      ['logos', 'pdq', 'negative', 1],
    ]);
    expect(skipped).toEqual([
      { file: 'bad.pdq.csv', line: 3, reason: expect.stringContaining('expected 64 hex digits') },
      { file: 'bad.pdq.csv', line: 4, reason: 'id s1 repeated with another hash' },
    ]);
    expect(sets[0]!.get('s1')).toMatchObject({ label: 'spam', source: 'bad.pdq.csv' });
    expect(sets[0]!.version).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(sets[1]!.match([hexToHash(A, 256)])).toHaveLength(1);
  });

  it('skips a PDQ hash below the quality floor whether or not the file has a header (hash,label,id[,quality])', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    const rows = `${A},flat-blank,e1,12\n${B},real,e2,95\n`;
    writeFileSync(join(dir, 'headerless.pdq.csv'), rows);
    writeFileSync(join(dir, 'withheader.pdq.csv'), `hash,label,id,quality\n${rows}`);
    const { sets, skipped } = await loadHashSetDirectory(dir);
    expect(sets.map((set) => [set.config.name, [...set.all()].map((entry) => entry.id)])).toEqual([
      ['headerless', ['e2']],
      ['withheader', ['e2']],
    ]);
    expect(skipped).toEqual([
      { file: 'headerless.pdq.csv', line: 1, reason: 'PDQ quality 12 below the floor of 50' },
      { file: 'withheader.pdq.csv', line: 2, reason: 'PDQ quality 12 below the floor of 50' },
    ]);
  });

  it('refuses a set file with no entry to load, naming it and why: a set matching nothing would be named in verdicts as consulted', async () => {
    const cases: Array<[file: string, text: string, why: RegExp]> = [
      ['floor.pdq.csv', `${A},flat-blank,e1,12\n`, /line 1: PDQ quality 12 below the floor/],
      ['feed.pdq.csv', 'hash,label,id\nnot-a-hash,x,e1\n', /line 2: .*expected 64 hex digits/],
      ['headeronly.pdq.csv', 'hash,label,id\n', /it holds no hash/],
      ['empty.blockhash.csv', '', /it holds no hash/],
    ];
    for (const [file, text, why] of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, file), text);
      const loading = loadHashSetDirectory(dir);
      await expect(loading).rejects.toThrow(HashSetFileError);
      await expect(loading).rejects.toThrow(new RegExp(`${join(dir, file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no entry to load: .*${why.source}`));
    }
  });

  it("skips a blockhash that is a blank image's hash: it could never match", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    writeFileSync(join(dir, 'captions.blockhash.csv'), `hash,label,id\n${'0'.repeat(64)},solid black,k0\n${'f'.repeat(64)},solid white,k1\n${A},real,k2\n`);
    const { sets, skipped } = await loadHashSetDirectory(dir);
    expect([...sets[0]!.all()].map((entry) => entry.id)).toEqual(['k2']);
    expect(skipped).toEqual([
      { file: 'captions.blockhash.csv', line: 2, reason: expect.stringContaining("blank image's hash") },
      { file: 'captions.blockhash.csv', line: 3, reason: expect.stringContaining("blank image's hash") },
    ]);
  });

  it("keeps an export's provenance and loads the entries it marks disabled as disabled", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    const header = 'hash,label,id,source,added_at,added_by,disabled_reason';
    writeFileSync(join(dir, 'exported.pdq.csv'), `${header}\n${A},logo,fp-1,file:clouds.jpg,2026-11-24T03:21:20.716Z,root,false positive\n${B},"two\nlines",b1,,,,\n`);
    const { sets, skipped } = await loadHashSetDirectory(dir);
    expect(skipped).toEqual([]);
    const set = sets[0]!;
    expect(set.get('fp-1')).toMatchObject({ source: 'file:clouds.jpg', addedAt: '2026-11-24T03:21:20.716Z', addedBy: 'root', disabled: { reason: 'false positive' } });
    expect(set.get('b1')).toMatchObject({ label: 'two\nlines' });
    expect(set.get('b1')).not.toHaveProperty('source');
    expect(set.match([hexToHash(A, 256)])).toEqual([]);
    expect(set.match([hexToHash(B, 256)])).toHaveLength(1);
  });

  describe('a file meant as a set that is not named as one stops the load, naming it and the form expected (as ABUSE_SCAN_LISTS_DIR does)', () => {
    const form = '<name>.<pdq|blockhash>[.<block|review|negative>].csv';
    it.each([
      ['csam-known.csv', 'no algorithm'],
      ['csam-known.pdq.block.extra.csv', 'an unknown kind'],
      ['csam-known.phash.csv', 'an unknown algorithm'],
      ['bad:name.pdq.csv', 'a name a key cannot hold'],
      ['.hidden.pdq.csv', 'a dotfile (the lists loader refuses .phish.txt too)'],
      ['csam-known.pdq.txt', 'an algorithm but not .csv'],
      ['csam-known.blockhash.review.json', 'an algorithm and kind but not .csv'],
    ])('%s (%s)', async (file) => {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, 'fine.pdq.csv'), `${A}\n`);
      writeFileSync(join(dir, file), `hash,label,id\n${A},x,y\n`);
      const loading = loadHashSetDirectory(dir);
      await expect(loading).rejects.toThrow(HashSetFileNameError);
      await expect(loading).rejects.toMatchObject({ code: 'invalid_name', message: `${join(dir, file)}: not a hash-set file name: expected ${form} (name: letters, digits, _ and -, up to 64, starting with a letter or digit)` });
    });

    it('reads algorithm, kind and .csv in any case, keeping the name as written', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, 'Csam-Known.PDQ.csv'), `${A},x,a1\n`);
      writeFileSync(join(dir, 'edits.BlockHash.Review.CSV'), `${B},y,b1\n`);
      const { sets } = await loadHashSetDirectory(dir);
      expect(sets.map((s) => [s.config.name, s.config.algorithm, s.config.kind, s.size])).toEqual([
        ['Csam-Known', 'pdq', 'block', 1],
        ['edits', 'blockhash', 'review', 1],
      ]);
    });

    it('refuses two files of one set name, naming both: a set has one algorithm and one version', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, 'csam.pdq.csv'), `${A}\n`);
      writeFileSync(join(dir, 'csam.blockhash.csv'), `${B}\n`);
      await expect(loadHashSetDirectory(dir)).rejects.toMatchObject({
        code: 'invalid_name',
        message: `${join(dir, 'csam.blockhash.csv')} and ${join(dir, 'csam.pdq.csv')}: both are hash set "csam" (one file per set: merge them or rename one)`,
      });
    });

    it('ignores what is not meant as a set: other extensions, dotfiles that are not .csv, a backup of a set', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, 'csam.pdq.csv'), `${A}\n`);
      for (const file of ['README.md', 'notes.txt', '.DS_Store', 'csam.pdq.csv.bak', 'csam.pdq.csv~']) writeFileSync(join(dir, file), 'not a set');
      const { sets } = await loadHashSetDirectory(dir);
      expect(sets.map((s) => s.config.name)).toEqual(['csam']);
    });
  });

  describe("a CSV with both hashes (`abuse-scan hash --json`'s fields) or a ThreatExchange-style export: the set's algorithm's hashes only", () => {
    // fixtures/images/clouds.jpg (`abuse-scan hash fixtures/images/clouds.jpg --json`): both 256 bits.
    const CLOUDS_PDQ = '54fca36344c1b1fc428b9df8227ce3f3182c07deb98345ceacf6847f1c1d3a09';
    const CLOUDS_BLOCKHASH = 'f000f080ffe07fe33861383f3c1f1c1f7e3ffe7cfe010000f0f2d2609e070d77';

    it('reads the pdq column into a PDQ set and the blockhash column into a blockhash set, each matching its own hash', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      const csv = `id,blockhash,pdq,pdq_quality\nclouds,${CLOUDS_BLOCKHASH},${CLOUDS_PDQ},100\n`;
      writeFileSync(join(dir, 'partner.pdq.csv'), csv);
      writeFileSync(join(dir, 'partner-edits.blockhash.csv'), csv);
      const { sets, skipped } = await loadHashSetDirectory(dir);
      expect(skipped).toEqual([]);
      const [blockhash, pdq] = sets;
      expect([pdq!.config.algorithm, blockhash!.config.algorithm]).toEqual(['pdq', 'blockhash']);
      const matched = async (set: HashSet, hex: string) => {
        const matches = set.match([hexToHash(hex, 256)]);
        return { distances: matches.map((match) => match.distance), entries: await set.describe(matches.map((match) => match.entryNo)) };
      };
      expect(await matched(pdq!, CLOUDS_PDQ)).toEqual({ distances: [0], entries: [{ id: 'clouds' }] });
      expect(await matched(pdq!, CLOUDS_BLOCKHASH)).toEqual({ distances: [], entries: [] });
      expect(await matched(blockhash!, CLOUDS_BLOCKHASH)).toEqual({ distances: [0], entries: [{ id: 'clouds' }] });
    });

    it("refuses a file whose only hash column is the other algorithm's, naming the file, line, column and the set's algorithm", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, 'partner.pdq.csv'), `id,blockhash\nclouds,${CLOUDS_BLOCKHASH}\n`);
      const loading = loadHashSetDirectory(dir);
      await expect(loading).rejects.toThrow(HashSetFileError);
      await expect(loading).rejects.toThrow(
        `${join(dir, 'partner.pdq.csv')}:1: the header's hash column "blockhash" holds blockhash hashes and this is a pdq set (name the pdq hashes' column "pdq" or "hash")`,
      );
    });

    it('skips the rows of a signal_type column that are not the set\'s algorithm, saying which type they are', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(
        join(dir, 'te.blockhash.csv'),
        `signal_type,signal_value,id\npdq,${CLOUDS_PDQ},p1\nphoto_md5,d41d8cd98f00b204e9800998ecf8427e,m1\nblockhash,${CLOUDS_BLOCKHASH},b1\n`,
      );
      const { sets, skipped } = await loadHashSetDirectory(dir);
      expect([...sets[0]!.all()].map((entry) => entry.id)).toEqual(['b1']);
      expect(skipped).toEqual([
        { file: 'te.blockhash.csv', line: 2, reason: 'signal_type pdq is not blockhash' },
        { file: 'te.blockhash.csv', line: 3, reason: 'signal_type photo_md5 is not blockhash' },
      ]);
    });
  });

  it("reads pdq-photo-hasher output (hash,quality,filename, no header) in a PDQ set: the quality floor applies, the file name is the id", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    writeFileSync(join(dir, 'hasher.pdq.csv'), `${A},100,bridge.jpg\n${B},20,flat, grey.png\n`);
    const { sets, skipped } = await loadHashSetDirectory(dir);
    expect([...sets[0]!.all()].map((entry) => [entry.id, entry.label])).toEqual([['bridge.jpg', undefined]]);
    expect(skipped).toEqual([{ file: 'hasher.pdq.csv', line: 2, reason: 'PDQ quality 20 below the floor of 50' }]);
  });
});

describe("a file's settings line (`# abuse-scan hash set: ...`, what `hashset export` writes): the set loads with the settings it had", () => {
  // fixtures/images/clouds.jpg's hashes (`abuse-scan hash fixtures/images/clouds.jpg --json`).
  const CLOUDS_PDQ = '54fca36344c1b1fc428b9df8227ce3f3182c07deb98345ceacf6847f1c1d3a09';
  const CLOUDS_BLOCKHASH = 'f000f080ffe07fe33861383f3c1f1c1f7e3ffe7cfe010000f0f2d2609e070d77';
  const EXPORT_HEADER = 'hash,label,id,source,added_at,added_by,disabled_reason';
  /** `hex` with its first `bits` bits flipped: that many bits away. */
  const away = (hex: string, bits: number): Uint8Array => {
    const hash = hexToHash(hex, 256);
    for (let bit = 0; bit < bits; bit++) hash[bit >> 3]! ^= 0x80 >> (bit & 7);
    return hash;
  };
  const loadOne = async (file: string, text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    writeFileSync(join(dir, file), text);
    return { dir, ...(await loadHashSetDirectory(dir)) };
  };

  it('honours the threshold: an export of a set at threshold 8 does not match at distance 10, as the set in Redis did not (the default 31 would)', async () => {
    const rows = `${EXPORT_HEADER}\n${CLOUDS_PDQ},,clouds-tight,file:clouds.jpg,2026-11-24T03:21:20.716Z,root,\n`;
    const exported = await loadOne('tight-pdq.pdq.csv', `# abuse-scan hash set: algorithm=pdq kind=block threshold=8 min_quality=50 flood_max_items=1000 flood_window_seconds=3600\n${rows}`);
    expect(exported.sets[0]!.config).toMatchObject({ name: 'tight-pdq', algorithm: 'pdq', kind: 'block', threshold: 8 });
    expect(exported.sets[0]!.match([away(CLOUDS_PDQ, 10)])).toEqual([]);
    expect(exported.sets[0]!.match([away(CLOUDS_PDQ, 8)])).toHaveLength(1);
    // Without the line: the defaults, as before.
    const plain = await loadOne('tight-pdq.pdq.csv', rows);
    expect(plain.sets[0]!.config).toMatchObject({ threshold: 31, minQuality: 50, flood: { maxItems: 1000, windowSeconds: 3600 } });
    expect(plain.sets[0]!.match([away(CLOUDS_PDQ, 10)])).toHaveLength(1);
    // The line is part of the file: another setting is another version.
    expect(exported.sets[0]!.version).not.toBe(plain.sets[0]!.version);
  });

  it('honours a blockhash threshold, and takes the defaults for what a line does not give', async () => {
    const { sets } = await loadOne('edits.blockhash.csv', `# abuse-scan hash set: threshold=40\nhash,label,id\n${CLOUDS_BLOCKHASH},,c1\n`);
    expect(sets[0]!.config).toMatchObject({ algorithm: 'blockhash', kind: 'block', threshold: 40, minQuality: 50, flood: { maxItems: 1000, windowSeconds: 3600 } });
    expect(sets[0]!.match([away(CLOUDS_BLOCKHASH, 45)])).toEqual([]);
    expect(sets[0]!.match([away(CLOUDS_BLOCKHASH, 30)])).toHaveLength(1);
    // The default 64 would match at 45.
    const plain = await loadOne('edits.blockhash.csv', `hash,label,id\n${CLOUDS_BLOCKHASH},,c1\n`);
    expect(plain.sets[0]!.match([away(CLOUDS_BLOCKHASH, 45)])).toHaveLength(1);
  });

  it("honours the quality floor: a hash below the file's floor is skipped, one below the default only is not", async () => {
    const { sets, skipped } = await loadOne('strict.pdq.csv', `# abuse-scan hash set: algorithm=pdq min_quality=90\nhash,label,id,quality\n${A},,low,80\n${B},,high,95\n`);
    expect(sets[0]!.config.minQuality).toBe(90);
    expect([...sets[0]!.all()].map((entry) => entry.id)).toEqual(['high']);
    expect(skipped).toEqual([{ file: 'strict.pdq.csv', line: 3, reason: 'PDQ quality 80 below the floor of 90' }]);
  });

  it("honours the flood guard's settings in the embedded scan's memory guard: with flood_max_items=1 the second image quarantines the entry", async () => {
    const { sets } = await loadOne('flood.pdq.csv', `# abuse-scan hash set: algorithm=pdq kind=block threshold=31 min_quality=50 flood_max_items=1 flood_window_seconds=600\n${CLOUDS_PDQ},,c1\n`);
    const { config } = sets[0]!;
    expect(config.flood).toEqual({ maxItems: 1, windowSeconds: 600 });
    const guard = new MemoryFloodGuard(undefined, () => 1_000_000);
    expect(await guard.recordMatch(config, { entryNo: 0, id: 'c1' }, 'image-1')).toBe(false);
    expect(await guard.recordMatch(config, { entryNo: 0, id: 'c1' }, 'image-1')).toBe(false);
    expect(await guard.recordMatch(config, { entryNo: 0, id: 'c1' }, 'image-2')).toBe(true);
  });

  it('loads a kind the file name and the line agree on', async () => {
    const { sets } = await loadOne('logos.pdq.negative.csv', `# abuse-scan hash set: algorithm=pdq kind=negative threshold=20\n${A},logo,l1\n`);
    expect(sets[0]!.config).toMatchObject({ kind: 'negative', threshold: 20 });
  });

  it('refuses a file whose line contradicts its name (algorithm, or kind: a name without one is a block set), naming the file, line and the name to give it', async () => {
    const cases: Array<[file: string, line: string, message: string]> = [
      ['logos.pdq.csv', '# abuse-scan hash set: algorithm=pdq kind=negative', 'the settings line says kind=negative and the file name says block (a name without a kind is a block set) (name it logos.pdq.negative.csv)'],
      ['edits.pdq.review.csv', '# abuse-scan hash set: kind=block', 'the settings line says kind=block and the file name says review (name it edits.pdq.csv)'],
      ['partner.pdq.csv', '# abuse-scan hash set: algorithm=blockhash kind=block', 'the settings line says algorithm=blockhash and the file name says pdq (name it partner.blockhash.csv)'],
    ];
    for (const [file, line, message] of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, file), `# exported from prod\n${line}\nhash,label,id\n${A},,e1\n`);
      const loading = loadHashSetDirectory(dir);
      await expect(loading).rejects.toThrow(HashSetFileError);
      await expect(loading).rejects.toThrow(`${join(dir, file)}:2: ${message}`);
    }
  });

  it('refuses a settings line it cannot read whole: an unknown key (it could change matching), a bad value, two lines', async () => {
    const cases: Array<[text: string, message: RegExp]> = [
      ['# abuse-scan hash set: algorithm=pdq threshold=8 max_distance=4\n', /:1: settings line: unknown setting "max_distance"/],
      ['# abuse-scan hash set: threshold=300\n', /:1: settings line: threshold must be an integer 0-128/],
      ['# abuse-scan hash set: threshold=8\n# abuse-scan hash set: threshold=9\n', /:2: a second settings line \(the first is line 1\)/],
    ];
    for (const [text, message] of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
      writeFileSync(join(dir, 'bad.pdq.csv'), `${text}${A},,e1\n`);
      const loading = loadHashSetDirectory(dir);
      await expect(loading).rejects.toThrow(HashSetFileError);
      await expect(loading).rejects.toThrow(message);
    }
  });
});
