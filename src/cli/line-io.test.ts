import { describe, expect, it } from 'vitest';
import { bytesAsText } from './line-io.js';

describe('bytesAsText', () => {
  it('reads UTF-8 as text', () => {
    expect(bytesAsText(Buffer.from('http://bücher.example/é'))).toBe('http://bücher.example/é');
  });

  it('turns each byte outside well-formed UTF-8 into its %XX escape, keeping the UTF-8 around it', () => {
    expect(bytesAsText(Uint8Array.from([0x61, 0xe9, 0x62]))).toBe('a%E9b');
    expect(bytesAsText(Buffer.concat([Buffer.from('é'), Buffer.from([0xc3]), Buffer.from('x')]))).toBe('é%C3x');
    // Overlong, surrogate and out-of-range forms are not UTF-8 either.
    expect(bytesAsText(Uint8Array.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]))).toBe('%C0%AF%ED%A0%80%F4%90%80%80');
    expect(bytesAsText(Uint8Array.from([0xf0, 0x9f, 0x98, 0x80, 0xff]))).toBe('😀%FF');
  });
});
