import { afterEach, describe, expect, it, vi } from 'vitest';
import { RepeatedErrorLog } from './repeated-log.js';

describe('RepeatedErrorLog', () => {
  afterEach(() => void vi.useRealTimers());

  it('logs an error once, then a count per window while it repeats, and at once again after a quiet window', () => {
    vi.useFakeTimers();
    const logged: Array<[Record<string, unknown>, string]> = [];
    const log = new RepeatedErrorLog({ error: (fields: Record<string, unknown>, message: string) => void logged.push([fields, message]) } as never, 60_000);
    const readonly = (n: number) => log.error('links READONLY', { queue: 'links', n }, 'worker error');

    for (let n = 1; n <= 384; n++) readonly(n); // what a demoted Redis made BullMQ report in 20 s
    log.error('links other', { queue: 'links' }, 'worker error'); // another error is not held back
    expect(logged).toEqual([
      [{ queue: 'links', n: 1 }, 'worker error'],
      [{ queue: 'links' }, 'worker error'],
    ]);

    vi.advanceTimersByTime(60_000);
    expect(logged[2]).toEqual([{ queue: 'links', n: 384, repeated: 383, windowMs: 60_000 }, 'worker error (repeated 383 times in 60 s)']);
    readonly(385);
    vi.advanceTimersByTime(60_000);
    expect(logged[3]).toEqual([{ queue: 'links', n: 385, repeated: 1, windowMs: 60_000 }, 'worker error (repeated 1 times in 60 s)']);
    expect(logged).toHaveLength(4);

    vi.advanceTimersByTime(60_000); // a window without it: tracking ends
    readonly(386);
    expect(logged[4]).toEqual([{ queue: 'links', n: 386 }, 'worker error']);
    readonly(387);
    log.flush();
    expect(logged[5]).toEqual([{ queue: 'links', n: 387, repeated: 1, windowMs: 60_000 }, 'worker error (repeated 1 times in 60 s)']);
    expect(logged).toHaveLength(6);
  });

  it('past 100 kinds at once counts the others together: a burst of distinct errors leaves later ones rate-limited', () => {
    vi.useFakeTimers();
    const logged: Array<[Record<string, unknown>, string]> = [];
    const log = new RepeatedErrorLog({ error: (fields: Record<string, unknown>, message: string) => void logged.push([fields, message]) } as never, 60_000);
    for (let job = 0; job < 130; job++) log.error(`lock lost ${job}`, { job }, 'worker error');
    for (let n = 0; n < 200; n++) log.error('EPIPE', { n }, 'worker error'); // the outage after the burst
    // 100 kinds each logged once, then one line for the first of the rest; everything after is counted.
    expect(logged).toHaveLength(101);
    vi.advanceTimersByTime(60_000);
    expect(logged[101]).toEqual([{ n: 199, repeated: 229, windowMs: 60_000 }, 'worker error and others (more than 100 kinds of error at once) (repeated 229 times in 60 s)']);
    expect(logged).toHaveLength(102);
  });
});
