import { describe, expect, it } from 'vitest';
import { MAX_CSV_RECORD_LINES, parseCsvCells, quoteCsvCell, RecordSplitter, splitRecords, type TextRecord } from './csv.js';

const cells = (text: string): string[] => parseCsvCells(text).cells;

describe('parseCsvCells', () => {
  it('splits quoted cells, "" being a quote, and keeps empty cells', () => {
    expect(cells('a,"b,c",,"d""e"')).toEqual(['a', 'b,c', '', 'd"e']);
    expect(cells('a,"b,c","say ""hi""",')).toEqual(['a', 'b,c', 'say "hi"', '']);
    expect(cells('a,')).toEqual(['a', '']);
    expect(cells('')).toEqual(['']);
  });

  it('trims unquoted cells and keeps quoted ones exactly, line breaks included', () => {
    expect(cells(' evil.example ,\tdomain\t, " kit 1 ","a\r\nb"')).toEqual(['evil.example', 'domain', ' kit 1 ', 'a\r\nb']);
  });

  it('is lenient: a quote after blanks opens a quoted cell, one elsewhere is a character, text after the closing quote is kept', () => {
    expect(cells('kit-1, "phishing, reported"')).toEqual(['kit-1', 'phishing, reported']);
    expect(cells('evil.example/a"b/,12" screen')).toEqual(['evil.example/a"b/', '12" screen']);
    expect(cells('"evil.example"/path/ ,x')).toEqual(['evil.example/path/', 'x']);
  });

  it('says when the text ends inside a quoted cell, and can start inside one', () => {
    expect(parseCsvCells('a,"b,c')).toEqual({ cells: ['a', 'b,c'], open: true });
    expect(parseCsvCells('a,"b""')).toEqual({ cells: ['a', 'b"'], open: true });
    expect(parseCsvCells('a,"b"')).toEqual({ cells: ['a', 'b'], open: false });
    expect(parseCsvCells('still quoted, "" here",next', true)).toEqual({ cells: ['still quoted, " here', 'next'], open: false });
  });
});

describe('quoteCsvCell', () => {
  it('quotes only the cells that need it, and they read back the same', () => {
    const values = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'crlf\r\n', ' leading', 'trailing\t', ''];
    expect(values.map(quoteCsvCell)).toEqual(['plain', '"a,b"', '"say ""hi"""', '"two\nlines"', '"crlf\r\n"', '" leading"', '"trailing\t"', '']);
    expect(cells(values.map(quoteCsvCell).join(','))).toEqual(values);
  });
});

describe('splitRecords', () => {
  it('numbers records by file line, skipping blank lines and # comments, with LF or CRLF and a byte order mark', () => {
    const text = '\uFEFFhash,label\r\n\r\n# comment, with a lone "\n  # indented comment\nA,one\r\n   \nB,two';
    expect(splitRecords(text, { quotedLineBreaks: true })).toEqual([
      { line: 1, text: 'hash,label' },
      { line: 5, text: 'A,one' },
      { line: 7, text: 'B,two' },
    ]);
  });

  it('without quotedLineBreaks, every line is one record whatever its quotes', () => {
    expect(splitRecords('a,"open\nb,"x\n"', { quotedLineBreaks: false })).toEqual([
      { line: 1, text: 'a,"open' },
      { line: 2, text: 'b,"x' },
      { line: 3, text: '"' },
    ]);
  });

  it('with quotedLineBreaks, a record goes on while a quoted cell is open, keeping its line breaks, and the next lines keep their numbers', () => {
    const text = 'A,"one\r\n\n# not a comment\r\ntwo",a1\nB,"x",b1\r\n';
    expect(splitRecords(text, { quotedLineBreaks: true })).toEqual([
      { line: 1, text: 'A,"one\r\n\n# not a comment\r\ntwo",a1' },
      { line: 5, text: 'B,"x",b1' },
    ]);
  });

  it('reports a quote that never closes by its first line and reads the lines after it again', () => {
    expect(splitRecords('A,"open,a1\n\nB,fine,b1\nC,x', { quotedLineBreaks: true })).toEqual([
      { line: 1, text: 'A,"open,a1', unclosed: true },
      { line: 3, text: 'B,fine,b1' },
      { line: 4, text: 'C,x' },
    ]);
    // A later quote closes it, though: the lines between are one cell (why list files read a record a line).
    expect(splitRecords('A,"open,a1\nB,fine,b1\nC,"x"', { quotedLineBreaks: true })).toEqual([{ line: 1, text: 'A,"open,a1\nB,fine,b1\nC,"x"' }]);
    const long = ['A,"open', ...Array.from({ length: MAX_CSV_RECORD_LINES + 1 }, (_, i) => `row${i}`), 'B,"closes"'].join('\n');
    const records = splitRecords(long, { quotedLineBreaks: true });
    expect(records[0]).toEqual({ line: 1, text: 'A,"open', unclosed: true });
    expect(records.slice(1, 3)).toEqual([
      { line: 2, text: 'row0' },
      { line: 3, text: 'row1' },
    ]);
    expect(records.at(-1)).toEqual({ line: MAX_CSV_RECORD_LINES + 3, text: 'B,"closes"' });
  });

  it('gives the same records whatever the chunks the text comes in', () => {
    const text = '\uFEFFh,l\r\nA,"one\r\ntwo"\r\n# c\nB,"open\r\nC,x';
    const whole = splitRecords(text, { quotedLineBreaks: true });
    for (const size of [1, 2, 3, 7]) {
      const splitter = new RecordSplitter({ quotedLineBreaks: true });
      const records: TextRecord[] = [];
      for (let at = 0; at < text.length; at += size) records.push(...splitter.push(text.slice(at, at + size)));
      records.push(...splitter.push('', true));
      expect(records).toEqual(whole);
    }
    expect(whole).toEqual([
      { line: 1, text: 'h,l' },
      { line: 2, text: 'A,"one\r\ntwo"' },
      { line: 5, text: 'B,"open', unclosed: true },
      { line: 6, text: 'C,x' },
    ]);
  });
});
