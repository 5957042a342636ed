import { describe, expect, it } from 'vitest';
import { DecodeLimiter, decodeSlotsFor, libuvThreadpoolSize } from './decode-limiter.js';

describe('decode limiter', () => {
  it('grants at most `size` slots at once, the rest in the order asked, as slots are given back', async () => {
    const limiter = new DecodeLimiter(2);
    const granted: number[] = [];
    const releases = new Map<number, () => void>();
    const asks = [0, 1, 2, 3, 4].map((i) => limiter.acquire().then((release) => (granted.push(i), releases.set(i, release))));
    await Promise.all(asks.slice(0, 2));
    expect(granted).toEqual([0, 1]);
    expect({ active: limiter.active, waiting: limiter.waiting }).toEqual({ active: 2, waiting: 3 });

    releases.get(1)!();
    await asks[2];
    expect(granted).toEqual([0, 1, 2]);
    expect(limiter.active).toBe(2);

    // Giving a slot back twice frees it once.
    releases.get(1)!();
    expect({ active: limiter.active, waiting: limiter.waiting }).toEqual({ active: 2, waiting: 2 });

    releases.get(0)!();
    releases.get(2)!();
    await Promise.all(asks);
    expect(granted).toEqual([0, 1, 2, 3, 4]);
    releases.get(3)!();
    releases.get(4)!();
    expect({ active: limiter.active, waiting: limiter.waiting }).toEqual({ active: 0, waiting: 0 });
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new DecodeLimiter(0)).toThrow(RangeError);
    expect(() => new DecodeLimiter(1.5)).toThrow(RangeError);
  });

  it('leaves at least one threadpool thread to lookups and file reads, runs no more decodes than cores, and at least one', () => {
    expect(decodeSlotsFor(4, 2)).toBe(2);
    expect(decodeSlotsFor(4, 16)).toBe(3);
    expect(decodeSlotsFor(16, 8)).toBe(8);
    expect(decodeSlotsFor(16, 64)).toBe(15);
    expect(decodeSlotsFor(1, 8)).toBe(1);
  });

  it('reads the threadpool size as libuv does', () => {
    expect(libuvThreadpoolSize({})).toBe(4);
    expect(libuvThreadpoolSize({ UV_THREADPOOL_SIZE: '16' })).toBe(16);
    expect(libuvThreadpoolSize({ UV_THREADPOOL_SIZE: '0' })).toBe(1);
    expect(libuvThreadpoolSize({ UV_THREADPOOL_SIZE: 'many' })).toBe(1);
    expect(libuvThreadpoolSize({ UV_THREADPOOL_SIZE: '4096' })).toBe(1024);
  });
});
