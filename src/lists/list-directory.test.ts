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

  it('reads `<name>.review.txt|csv` as a blocklist whose matches suggest review, as `blocklist import --action review` makes one in Redis', async () => {
    await writeFile(join(dir, 'sus.review.csv'), 'entry,kind\nsus.example.com/,expression\n');
    await writeFile(join(dir, 'phish.block.txt'), 'evil.example\n');
    await writeFile(join(dir, 'spam.txt'), 'spam.example\n');
    const { lists } = await loadListDirectory(dir);
    expect(lists.map((l) => [l.file, l.list.name, l.list.action])).toEqual([
      ['phish.block.txt', 'phish', 'block'],
      ['spam.txt', 'spam', 'block'],
      ['sus.review.csv', 'sus', 'review'],
    ]);
    await writeFile(join(dir, 'sus.txt'), 'other.example\n');
    await expect(loadListDirectory(dir)).rejects.toThrow('both are list "sus"');
  });

  it('refuses an allowlist file with an action: an allowlist only allows', async () => {
    await writeFile(join(dir, 'allow-partners.review.txt'), 'partner.example\n');
    await expect(loadListDirectory(dir)).rejects.toThrow(`${join(dir, 'allow-partners.review.txt')}: an allowlist has no action (name it allow-partners.txt)`);
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

  it('refuses a file that yields no entry, as `blocklist import` refuses it: a CSV feed saved as .txt', async () => {
    await writeFile(join(dir, 'allow-ok.txt'), 'partner.example\n');
    await writeFile(join(dir, 'phish.txt'), 'entry,label\nevil.example,kit-3\n');
    const loading = loadListDirectory(dir);
    await expect(loading).rejects.toBeInstanceOf(ListFileError);
    await expect(loading).rejects.toThrow(new RegExp(`^${join(dir, 'phish.txt')}: no entries, only 2 bad lines \\(line 1 "entry,label": `));
  });

  it.each([
    ['empty', ''],
    ['comments only', '# nothing today\n\n'],
    ['a CSV header only', 'entry,label\n'],
  ])('refuses a list file with no entry line at all (%s)', async (_what, text) => {
    const file = text.startsWith('entry') ? 'phish.csv' : 'phish.txt';
    await writeFile(join(dir, file), text);
    await expect(loadListDirectory(dir)).rejects.toThrow(`${join(dir, file)}: no entries in the file`);
  });

  it('keeps the good lines of a file that also has bad ones (they are skipped, with a warning)', async () => {
    await writeFile(join(dir, 'phish.txt'), 'evil.example\njavascript:alert(1)\n');
    const { lists } = await loadListDirectory(dir);
    expect(lists).toHaveLength(1);
    expect(lists[0]!.bad).toMatchObject([{ line: 2 }]);
  });

  it('refuses two files whose names differ only by the extension\'s case', async () => {
    await writeFile(join(dir, 'spam.TXT'), 'spam.example\n');
    await writeFile(join(dir, 'spam.txt'), 'spam.example\n');
    await expect(loadListDirectory(dir)).rejects.toThrow(`${join(dir, 'spam.TXT')} and ${join(dir, 'spam.txt')}: both are list "spam"`);
  });
});
