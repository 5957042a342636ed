import { describe, expect, it } from 'vitest';
import { integerFlag } from './cli-config.js';

describe('integerFlag', () => {
  it('reads a whole decimal number, blanks around it aside, as settings are read', () => {
    expect(integerFlag('batch', '2000')).toBe(2000);
    expect(integerFlag('batch', ' 7 ')).toBe(7);
    expect(integerFlag('batch', '0')).toBe(0);
    expect(integerFlag('batch', undefined)).toBeUndefined();
  });

  it.each(['', ' ', '0x50', '1e3', '5.0', '+5', '-1', 'abc'])('refuses %j (Number() took blanks for 0 and 0x50 for 80)', (value) => {
    expect(() => integerFlag('batch', value)).toThrow(`--batch needs a non-negative integer, got ${JSON.stringify(value)}`);
  });

  it('refuses 0 where a positive integer is needed', () => {
    expect(() => integerFlag('concurrency', '0', 1)).toThrow('--concurrency needs a positive integer, got "0"');
  });
});
