import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import './decode.js';

describe('the decode module', () => {
  it("turns libvips's operation cache off when it loads, so no decode's buffers outlive it", () => {
    // sharp.cache() without arguments reports the limits without changing them.
    const { memory, files, items } = sharp.cache();
    expect({ memory: memory.max, files: files.max, items: items.max }).toEqual({ memory: 0, files: 0, items: 0 });
  });
});
