import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryIdentity, type ListEntry } from './list-entry.js';
import {
  identityHash,
  importRefusal,
  ListFileError,
  ListFileParser,
  parseCsvList,
  parseListFile,
  parseTextList,
  spooledEntry,
  spoolLine,
  spoolListFile,
  type ListFileFormat,
  type ParsedList,
  type SpooledListFile,
} from './list-import.js';

describe('parseTextList', () => {
  it('reads one entry per line, skips comments and blanks, canonicalizes, reports bad lines by number', () => {
    const text = ['# phishing feed', '', 'HTTP://Evil.Example/login', 'bad.example/kit/', '  evil.example  ', 'javascript:alert(1)', 'sub.evil.example', 'evil.example', 'bücher.de'].join('\n');
    const parsed = parseTextList(text, { addedBy: 'cli' });
    expect(parsed.entries).toEqual([
      { kind: 'url', value: 'http://evil.example/login', addedBy: 'cli' },
      { kind: 'expression', value: 'bad.example/kit/', addedBy: 'cli' },
      { kind: 'domain', value: 'evil.example', addedBy: 'cli' },
      { kind: 'domain', value: 'xn--bcher-kva.de', addedBy: 'cli' },
    ]);
    expect(parsed.bad.map((b) => b.line)).toEqual([6, 7]);
    expect(parsed.bad[0]!.message).toMatch(/unsupported_scheme/);
    expect(parsed.duplicates).toBe(1);
  });

  it('reads a backslash as a path, never as a whole-domain entry, and refuses expressions deeper than Safe Browsing lookups by line', () => {
    const text = ['evil11.example\\x', 'evil.example/wp-content/uploads/2024/05/', 'a.b.c.d.evil.co.uk/', 'evil.example/wp-content/uploads/2024/', 'evil12.example\\'].join('\n');
    const parsed = parseTextList(text);
    expect(parsed.entries).toEqual([
      { kind: 'expression', value: 'evil11.example/x' },
      { kind: 'expression', value: 'evil.example/wp-content/uploads/2024/' },
      { kind: 'expression', value: 'evil12.example/' },
    ]);
    expect(parsed.bad).toEqual([
      {
        line: 2,
        text: 'evil.example/wp-content/uploads/2024/05/',
        message:
          'evil.example/wp-content/uploads/2024/05/ is deeper than Safe Browsing lookups reach (a path prefix of more than 3 directories: only the page /wp-content/uploads/2024/05/ itself would match, not the pages under it); the longest expression that works is evil.example/wp-content/uploads/2024/',
      },
      {
        line: 3,
        text: 'a.b.c.d.evil.co.uk/',
        message: 'a.b.c.d.evil.co.uk/ is deeper than Safe Browsing lookups reach (a host of more than 5 labels: subdomains of a.b.c.d.evil.co.uk would not match); the longest expression that works is c.d.evil.co.uk/',
      },
    ]);
    // An explicit kind: a backslash is no more a bare domain name than a slash.
    expect(parseCsvList('entry,kind\nevil11.example\\x,domain\nevil11.example\\x,expression').bad).toEqual([{ line: 2, text: 'evil11.example\\x,domain', message: expect.stringMatching(/bare name/) }]);
  });

  it('reads an http and an https URL of one URL as one entry (the first), as matching does', () => {
    const parsed = parseTextList('https://evil.example/login\nhttp://evil.example/login\nevil.example/login\nhttp://evil.example/login/\n');
    expect(parsed.entries).toEqual([
      { kind: 'url', value: 'https://evil.example/login' },
      { kind: 'expression', value: 'evil.example/login' },
      { kind: 'url', value: 'http://evil.example/login/' },
    ]);
    expect(parsed.duplicates).toBe(1);
  });

  it('handles CRLF and a byte order mark', () => {
    expect(parseTextList('\uFEFFa.example\r\nb.example\r\n').entries.map((e) => e.value)).toEqual(['a.example', 'b.example']);
  });

  it('has no quoting: a quote is part of the entry, and never joins lines', () => {
    const parsed = parseTextList('\uFEFF# "feed"\r\n\r\nevil.example/"a\r\nevil2.example/b"\r\njavascript:x"\r\n');
    expect(parsed.entries.map((e) => e.value)).toEqual(['evil.example/"a', 'evil2.example/b"']);
    expect(parsed.bad.map((b) => [b.line, b.text])).toEqual([[5, 'javascript:x"']]);
  });
});

describe('parseCsvList', () => {
  it('reads entry, kind, label, reason and added_by columns in any order', () => {
    const csv = ['label,entry,kind,reason', 'kit-1,evil.example,domain,"phishing, reported"', 'kit-2,"evil.example/a ""b""/",expression,', ',1.2.3.4,,'].join('\n');
    const parsed = parseCsvList(csv);
    expect(parsed.bad).toEqual([]);
    expect(parsed.entries).toEqual([
      { kind: 'domain', value: 'evil.example', label: 'kit-1', reason: 'phishing, reported' },
      { kind: 'expression', value: 'evil.example/a%20"b"/', label: 'kit-2' },
      { kind: 'expression', value: '1.2.3.4/' },
    ]);
  });

  it('reports bad rows with their line numbers, and an explicit kind is checked', () => {
    const csv = ['entry,kind', 'good.example,domain', 'http://x.example/,domain', 'y.example,color', '"unterminated,url', 'z.example'].join('\n');
    const parsed = parseCsvList(csv);
    expect(parsed.entries.map((e) => e.value)).toEqual(['good.example', 'z.example']);
    expect(parsed.bad.map((b) => [b.line, b.message])).toEqual([
      [3, expect.stringMatching(/bare name/)],
      [4, expect.stringMatching(/unknown kind/)],
      [5, 'unterminated quoted field'],
    ]);
  });

  it('refuses a file without an entry column as a whole: nothing in it is a list', () => {
    expect(() => parseCsvList('url,label\nevil.example,x', { source: 'feed.csv' })).toThrow(ListFileError);
    expect(() => parseCsvList('# feed\nhttp://phish.example.com/login/\nhttp://evil2.example/\n', { source: 'feed.csv' })).toThrow(
      /^feed\.csv:2: the CSV header row must name an "entry" column/,
    );
  });

  it('trims every cell, quoted or not, and reads a quoted cell after blanks as quoted', () => {
    const csv = ['entry , kind ,label, reason', ' evil.example , DOMAIN , kit-1 , "phishing, reported"', '" http://Evil.example/a ",url,"  kit-2  ",'].join('\n');
    const parsed = parseCsvList(csv);
    expect(parsed.bad).toEqual([]);
    expect(parsed.entries).toEqual([
      { kind: 'domain', value: 'evil.example', label: 'kit-1', reason: 'phishing, reported' },
      { kind: 'url', value: 'http://evil.example/a', label: 'kit-2' },
    ]);
  });

  it('numbers rows by file line through a byte order mark, CRLF, comments and blank lines', () => {
    const csv = '\uFEFF# feed of 2026-05-01\r\n\r\nentry,kind\r\n# "quoted" comment\r\ngood.example,domain\r\n\r\ny.example,color\r\nz.example';
    const parsed = parseCsvList(csv);
    expect(parsed.entries.map((e) => e.value)).toEqual(['good.example', 'z.example']);
    expect(parsed.bad).toEqual([{ line: 7, text: 'y.example,color', message: expect.stringMatching(/unknown kind/) }]);
  });

  it('reads a record a line: a stray quote costs its own line only, the entries after it are imported', () => {
    // RFC 4180 would read lines 3 and 4 into the reason opened on line 2, and b.example would be lost.
    const csv = ['entry,reason', 'a.example,"phish kit', 'b.example,"kit, v2"', 'c.example,x'].join('\n');
    const parsed = parseCsvList(csv);
    expect(parsed.entries.map((e) => [e.value, e.reason])).toEqual([
      ['b.example', 'kit, v2'],
      ['c.example', 'x'],
    ]);
    expect(parsed.bad).toEqual([{ line: 2, text: 'a.example,"phish kit', message: 'unterminated quoted field' }]);
  });

  it('refuses a quoted cell spanning lines: its first line is bad, the next ones are read on their own, numbers stay right', () => {
    const csv = ['entry,reason', 'a.example,"first line', 'second line"', 'b.example,ok', '"evil.example', 'net",domain'].join('\r\n');
    const parsed = parseCsvList(csv);
    expect(parsed.entries.map((e) => e.value)).toEqual(['b.example']);
    expect(parsed.bad.map((b) => [b.line, b.text, b.message])).toEqual([
      [2, 'a.example,"first line', 'unterminated quoted field'],
      [3, 'second line"', expect.stringMatching(/does not name a host/)],
      [5, '"evil.example', 'unterminated quoted field'],
      [6, 'net",domain', expect.stringMatching(/does not name a host/)],
    ]);
    // Read by RFC 4180 the entry would be "evil.example\nnet", which canonicalization (it drops line
    // breaks) would turn into the wrong domain evil.examplenet without a word.
  });

  it('refuses a header row whose quote does not close, naming its line', () => {
    expect(() => parseCsvList('\n# feed\nentry,"kind\nevil.example,domain', { source: 'feed.csv' })).toThrow(/^feed\.csv:3: unterminated quoted field in the CSV header row$/);
  });
});

describe('importRefusal', () => {
  const parsed = (entries: number, bad: number): ParsedList => ({
    entries: Array.from({ length: entries }, (_, i) => ({ kind: 'domain' as const, value: `host${i}.example` })),
    bad: Array.from({ length: bad }, (_, i) => ({ line: i + 1, text: 'x', message: 'bad' })),
    duplicates: 0,
  });

  it('lets an ordinary import skip bad lines, up to --max-bad when given', () => {
    expect(importRefusal(parsed(2, 3), { replace: false })).toBeUndefined();
    expect(importRefusal(parsed(2, 0), { replace: false })).toBeUndefined();
    expect(importRefusal(parsed(2, 3), { replace: false, maxBad: 2 })).toBe('3 bad lines (more than --max-bad 2)');
  });

  it('refuses an import whose every line is bad: nothing to import, and no empty list to make', () => {
    expect(importRefusal(parsed(0, 3), { replace: false })).toBe('no entries, only 3 bad lines');
    expect(importRefusal(parsed(0, 3), { replace: false, maxBad: 5 })).toBe('no entries, only 3 bad lines');
    expect(importRefusal(parsed(1, 3), { replace: false })).toBeUndefined();
  });

  it('refuses an import of a file with no entry line at all (empty, only comments, only a CSV header): no empty list to make', () => {
    expect(importRefusal(parsed(0, 0), { replace: false })).toBe('no entries in the file');
    expect(importRefusal(parseTextList('# nothing today\n\n'), { replace: false })).toBe('no entries in the file');
    expect(importRefusal(parseCsvList('entry,label\n'), { replace: false, maxBad: 0 })).toBe('no entries in the file');
  });

  it('refuses a --replace with any bad line unless --max-bad allows it, and one with no entries at all', () => {
    expect(importRefusal(parsed(5, 1), { replace: true })).toBe('1 bad lines (--replace allows none without --max-bad)');
    expect(importRefusal(parsed(5, 1), { replace: true, maxBad: 1 })).toBeUndefined();
    expect(importRefusal(parsed(0, 0), { replace: true })).toBe('no entries (--replace would empty the list)');
    expect(importRefusal(parsed(0, 1), { replace: true, maxBad: 10 })).toBe('no entries (--replace would empty the list)');
    expect(importRefusal(parsed(5, 0), { replace: true })).toBeUndefined();
  });
});

describe('ListFileParser', () => {
  const files: Array<[ListFileFormat, string]> = [
    ['txt', '\uFEFF# feed\r\nevil.example\r\n\r\nhttps://evil.example/login\nhttp://evil.example/login\nnot a host!\nbad.example/a/b/c/d/e/\nlast.example'],
    ['csv', '\uFEFFentry,kind,label\n"evil.example",domain,kit\nevil.example\\x,expression,"a, b"\nx.example,weird\n"open.example,domain\nlast.example,,l'],
  ];
  it.each(files)('read piece by piece (%s) gives what the whole text gives, wherever the pieces are cut', (format, text) => {
    const whole = parseListFile(text, format, { addedBy: 'cli' });
    for (const size of [1, 2, 3, 7, 16, text.length]) {
      const parser = new ListFileParser(format, { addedBy: 'cli' });
      for (let at = 0; at < text.length; at += size) parser.push(text.slice(at, at + size));
      expect(parser.end()).toEqual(whole);
    }
  });

  it('refuses a CSV header without an entry column as the whole text is refused', () => {
    const parser = new ListFileParser('csv', { source: 'feed.csv' });
    parser.push('url,la');
    expect(() => parser.push('bel\nevil.example,x\n')).toThrow(ListFileError);
  });
});

describe('spoolListFile', () => {
  let dir: string;
  beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), 'abuse-scan-spool-test-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function* pieces(text: string, size: number): AsyncGenerator<Buffer> {
    const bytes = Buffer.from(text, 'utf8');
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  }

  async function entriesOf(spooled: SpooledListFile): Promise<ListEntry[]> {
    const entries: ListEntry[] = [];
    for await (const batch of spooled.batches()) entries.push(...batch);
    return entries;
  }

  const files: Array<[ListFileFormat, string]> = [
    ['txt', '\uFEFF# feed\r\nevil.example\r\n\r\nhttps://evil.example/login\nhttp://evil.example/login\nnot a host!\nbad.example/a/b/c/d/e/\nEVIL.example\nbücher.de\nlast.example'],
    [
      'csv',
      '\uFEFFentry,kind,label,reason\n"evil.example",domain,kit,"tab\there, ""quoted"""\nevil.example\\x,expression,"a, b",\u2028 line sep \ud800 lone\nx.example,weird\n"open.example,domain\nevil.example,,second label\nlast.example,,l,\u00e9t\u00e9 \u{1F600}',
    ],
  ];
  it.each(files)('gives what parseListFile gives (%s): entries (a repeat dropped, the first kept), bad lines and repeats, wherever the bytes are cut', async (format, text) => {
    // As bytes (a lone surrogate is U+FFFD in UTF-8), as the file gives it.
    const whole = parseListFile(Buffer.from(text, 'utf8').toString('utf8'), format, { addedBy: 'cli' });
    for (const size of [1, 2, 3, 7, 16, text.length * 4]) {
      const spooled = await spoolListFile(pieces(text, size), format, { addedBy: 'cli', tmpdir: dir });
      try {
        expect({ bad: spooled.bad, badLines: spooled.badLines, entryLines: spooled.entryLines }).toEqual({ bad: whole.bad, badLines: whole.bad.length, entryLines: whole.entries.length + whole.duplicates });
        expect(await entriesOf(spooled)).toEqual(whole.entries);
        expect(spooled.duplicates).toBe(whole.duplicates);
        // Read again (an import retried): the same entries.
        expect(await entriesOf(spooled)).toEqual(whole.entries);
      } finally {
        await spooled.close();
      }
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes an entry a line and reads it back as it was, whatever its value and info hold', () => {
    const entries: ListEntry[] = [
      { kind: 'domain', value: 'evil.example' },
      { kind: 'url', value: 'http://evil.example/a?b=c', label: 'l\tab\n"x"', addedBy: '' },
      { kind: 'expression', value: 'evil.example/p/', reason: '[r]', addedBy: 'me' },
      { kind: 'url', value: 'x:odd\tvalue\nhere', label: 'l' },
      { kind: 'domain', value: '[bracket.example' },
    ];
    for (const entry of entries) {
      const line = spoolLine(entry);
      expect(line.indexOf('\n')).toBe(line.length - 1);
      expect(spooledEntry(line.slice(0, -1))).toEqual(entry);
    }
  });

  it('keeps the first bad lines only, counting the others, and tells importRefusal the counts', async () => {
    const text = `ok.example\n${Array.from({ length: 120 }, (_, i) => `d${i + 1}.sub.example\n`).join('')}`;
    const spooled = await spoolListFile(pieces(text, 100), 'txt', { keepBad: 50, tmpdir: dir });
    try {
      expect(spooled.bad.map((bad) => bad.line)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
      expect([spooled.badLines, spooled.entryLines]).toEqual([120, 1]);
      expect(importRefusal(spooled, { replace: false, maxBad: 119 })).toBe('120 bad lines (more than --max-bad 119)');
      expect(importRefusal(spooled, { replace: false })).toBeUndefined();
    } finally {
      await spooled.close();
    }
  });

  it('tells a repeat from another entry of the same 32-bit hash', async () => {
    // dup162789.example and dup379192.example: one FNV-1a hash, two entries.
    expect(identityHash(entryIdentity({ kind: 'domain', value: 'dup162789.example' }))).toBe(identityHash(entryIdentity({ kind: 'domain', value: 'dup379192.example' })));
    const text = 'dup162789.example\ndup379192.example\nother.example\ndup379192.example\nDUP162789.example\n';
    const spooled = await spoolListFile(pieces(text, 5), 'txt', { tmpdir: dir });
    try {
      expect((await entriesOf(spooled)).map((entry) => entry.value)).toEqual(['dup162789.example', 'dup379192.example', 'other.example']);
      expect(spooled.duplicates).toBe(2);
    } finally {
      await spooled.close();
    }
  });

  it('holds its copy under no name while it is open, and leaves nothing behind', async () => {
    const spooled = await spoolListFile(pieces('a.example\nb.example\n', 4), 'txt', { tmpdir: dir });
    expect(await readdir(dir)).toEqual([]);
    expect((await entriesOf(spooled)).length).toBe(2);
    await spooled.close();
    await expect(spoolListFile(pieces('url,label\nevil.example,x\n', 3), 'csv', { tmpdir: dir, source: 'feed.csv' })).rejects.toThrow(ListFileError);
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes what it validated: the file changed after it was read changes nothing', async () => {
    const file = join(dir, 'feed.txt');
    await writeFile(file, 'first.example\nsecond.example\n');
    const spooled = await spoolListFile(createReadStream(file), 'txt', { tmpdir: dir });
    try {
      await writeFile(file, 'not a host!\nthird.example\n');
      expect((await entriesOf(spooled)).map((entry) => entry.value)).toEqual(['first.example', 'second.example']);
      expect(spooled.badLines).toBe(0);
    } finally {
      await spooled.close();
    }
    await rm(file);
  });
});
