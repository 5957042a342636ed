import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadListDirectory } from './list-directory.js';
import { ListFileError } from './list-import.js';

describe('loadListDirectory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abuse-scan-list-dir-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('loads one list per file, named after it', async () => {
    await writeFile(join(dir, 'phish.txt'), 'evil.example\n');
    await writeFile(join(dir, 'allow-partners.csv'), 'entry\npartner.example\n');
    const { lists } = await loadListDirectory(dir);
    expect(lists.map((l) => [l.file, l.list.name])).toEqual([
      ['allow-partners.csv', 'allow-partners'],
      ['phish.txt', 'phish'],
    ]);
  });

  it('refuses two files of one list name, naming both: a list has one version', async () => {
    await writeFile(join(dir, 'phish.txt'), 'evil.example\n');
    await writeFile(join(dir, 'phish.csv'), 'entry,reason\nother.example,feed-b\n');
    await writeFile(join(dir, 'spam.TXT'), 'spam.example\n');
    await writeFile(join(dir, 'spam.txt'), 'spam.example\n');
    const loading = loadListDirectory(dir);
    await expect(loading).rejects.toBeInstanceOf(ListFileError);
    await expect(loading).rejects.toThrow(`${join(dir, 'phish.csv')} and ${join(dir, 'phish.txt')}: both are list "phish"`);
  });

  it('refuses two files whose names differ only by the extension\'s case', async () => {
    await writeFile(join(dir, 'spam.TXT'), 'spam.example\n');
    await writeFile(join(dir, 'spam.txt'), 'spam.example\n');
    await expect(loadListDirectory(dir)).rejects.toThrow(`${join(dir, 'spam.TXT')} and ${join(dir, 'spam.txt')}: both are list "spam"`);
  });
});
