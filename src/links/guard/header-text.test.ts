import { describe, expect, it } from 'vitest';
import { headerText } from './header-text.js';

/** A header value as undici presents it: each byte one Latin-1 character. */
const asUndici = (bytes: Buffer) => bytes.toString('latin1');

describe('headerText', () => {
  it('reads raw UTF-8 bytes as UTF-8', () => {
    expect(headerText(asUndici(Buffer.from('http://bücher.example/login')))).toBe('http://bücher.example/login');
    expect(headerText(asUndici(Buffer.from('0; url=/日本')))).toBe('0; url=/日本');
  });

  it('keeps Latin-1 when the bytes are not valid UTF-8', () => {
    expect(headerText(asUndici(Buffer.from([0x2f, 0x63, 0x61, 0x66, 0xe9])))).toBe('/café');
    // A truncated sequence is not UTF-8 either.
    expect(headerText(asUndici(Buffer.from([0x2f, 0xc3])))).toBe('/\u00c3');
  });

  it('returns ASCII and already-decoded text unchanged', () => {
    expect(headerText('/plain?a=1')).toBe('/plain?a=1');
    expect(headerText('/日本')).toBe('/日本');
  });
});
