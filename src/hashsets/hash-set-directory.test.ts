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
});
