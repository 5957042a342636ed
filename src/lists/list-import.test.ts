import { describe, expect, it } from 'vitest';
import { parseCsvList, parseTextList, splitCsvLine } from './list-import.js';

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

  it('handles CRLF and a byte order mark', () => {
    expect(parseTextList('\uFEFFa.example\r\nb.example\r\n').entries.map((e) => e.value)).toEqual(['a.example', 'b.example']);
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

  it('refuses a file without an entry column', () => {
    expect(parseCsvList('url,label\nevil.example,x').bad).toEqual([expect.objectContaining({ line: 1, message: expect.stringMatching(/entry/) })]);
  });

  it('splits quoted cells', () => {
    expect(splitCsvLine('a,"b,c",,"d""e"')).toEqual(['a', 'b,c', '', 'd"e']);
    expect(splitCsvLine('a,')).toEqual(['a', '']);
  });
});
