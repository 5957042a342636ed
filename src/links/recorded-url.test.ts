import { describe, expect, it } from 'vitest';
import { MAX_RECORDED_URL_LENGTH, recordedUrl } from './recorded-url.js';

describe('recordedUrl', () => {
  it('keeps a URL that fits whole', () => {
    const url = `http://a.example/${'x'.repeat(MAX_RECORDED_URL_LENGTH - 17)}`;
    expect(url).toHaveLength(MAX_RECORDED_URL_LENGTH);
    expect(recordedUrl(url)).toBe(url);
  });

  it('cuts a longer one to its first 2,048 characters and marks the cut', () => {
    const url = `http://a.example/${'x'.repeat(70_000)}`;
    expect(recordedUrl(url)).toBe(`${url.slice(0, 2048)}…`);
  });
});
