import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hexToHash } from '../matching/hash-bits.js';
import { loadHashSetDirectory } from './hash-set-directory.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('loadHashSetDirectory', () => {
  it('loads <name>.<algorithm>[.<kind>].csv files, skipping bad lines with their numbers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashset-dir-'));
    writeFileSync(join(dir, 'bad.pdq.csv'), `hash,label,id\n${A},spam,s1\nzz,x,s2\n${B},,s1\n`);
    writeFileSync(join(dir, 'logos.pdq.negative.csv'), `${B},our logo,l1\n`);
    writeFileSync(join(dir, 'edits.blockhash.review.csv'), `${A}\n`);
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    writeFileSync(join(dir, 'bad:name.pdq.csv'), `${A}\n`);
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
});
