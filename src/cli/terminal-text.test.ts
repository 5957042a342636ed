import { describe, expect, it } from 'vitest';
import { terminalSafe } from './terminal-text.js';

describe('terminalSafe', () => {
  it('shows C0 controls, DEL and C1 controls as \\xHH escapes, tab and newline included', () => {
    expect(terminalSafe('\u001b]0;title\u0007\u001b[2J\u001b[1;31mALLOW')).toBe('\\x1b]0;title\\x07\\x1b[2J\\x1b[1;31mALLOW');
    expect(terminalSafe('a\tb\nc\rd\u0000e\u007ff\u0085g\u009bh')).toBe('a\\x09b\\x0ac\\x0dd\\x00e\\x7ff\\x85g\\x9bh');
  });

  it('shows line separators and bidi controls as \\uHHHH escapes', () => {
    expect(terminalSafe('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c');
    const bidi = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c'];
    expect(bidi.map(terminalSafe)).toEqual(['\\u202a', '\\u202b', '\\u202c', '\\u202d', '\\u202e', '\\u2066', '\\u2067', '\\u2068', '\\u2069', '\\u200e', '\\u200f', '\\u061c']);
  });

  it('leaves printable text as it is, non-ASCII letters and emoji included', () => {
    const text = 'http://www.bücher.de/ü?q=1 مرحبا 日本 😀 \\x1b (already visible) ~!@#$%^&*()';
    expect(terminalSafe(text)).toBe(text);
  });
});
