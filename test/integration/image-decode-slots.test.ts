/**
 * Image decodes under load, with real sharp decodes: they take turns on a few slots, so a burst
 * of image jobs neither times its own images out while they wait nor takes every threadpool thread
 * from name lookups and file reads. No assertion here depends on how fast this machine is: the
 * clock of the deadline is faked, and the concurrency is counted around sharp's own methods.
 */
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeImage, DecodeLimiter, sharedDecodeLimiter } from '../../src/images/index.js';

/** A noise PNG: every pixel is decoded at full size before the shrink, tens of ms per decode. */
let slowish: Buffer;

beforeAll(async () => {
  slowish = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
    .png({ compressionLevel: 1 })
    .toBuffer();
});

afterEach(() => {
  vi.useRealTimers();
});

/**
 * Counts the sharp calls decodes make (header reads and pixel decodes, each a threadpool task)
 * from the call until its answer, and the most at once. (sharp.counters() cannot tell: sharp
 * answers a call before it decrements them.)
 */
function probeSharpCalls() {
  const proto = sharp.prototype as Record<'metadata' | 'toBuffer', (...args: unknown[]) => Promise<unknown>>;
  const originals = { metadata: proto.metadata, toBuffer: proto.toBuffer };
  let started = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  for (const name of ['metadata', 'toBuffer'] as const) {
    proto[name] = function (this: unknown, ...args: unknown[]) {
      const call = originals[name].apply(this, args);
      started++;
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      const answered = () => void inFlight--;
      call.then(answered, answered);
      return call;
    };
  }
  return { started: () => started, mostInFlight: () => mostInFlight, restore: () => Object.assign(proto, originals) };
}

const outcome = (work: Promise<unknown>): Promise<string> => work.then(
  () => 'ok',
  (error: { code?: string }) => error.code ?? String(error),
);

describe('image decodes take turns on a few slots', () => {
  it('a decode that waits for a slot keeps its whole deadline: the clock starts when it gets one', async () => {
    const limiter = new DecodeLimiter(1);
    // The only slot, held as a long decode of another job would hold it.
    const releaseHeldSlot = await limiter.acquire();
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const timeoutMs = 60_000;
    const decodes = Array.from({ length: 6 }, () => outcome(decodeImage(slowish, { timeoutMs, limiter })));
    const waitingForTheSlot = limiter.waiting;
    // Ten deadlines pass on the (fake) clock while they wait; none has started its own.
    vi.advanceTimersByTime(10 * timeoutMs);
    releaseHeldSlot();
    expect(await Promise.all(decodes)).toEqual(Array(6).fill('ok'));
    expect(waitingForTheSlot).toBe(6);
  });

  it('never has more sharp calls in flight than the shared limiter has slots, and every decode succeeds', async () => {
    // What 16 image jobs of 2 images each ask for at once (the default concurrency), at least.
    const count = Math.max(32, 4 * sharedDecodeLimiter.size);
    const probe = probeSharpCalls();
    try {
      const decodes = Array.from({ length: count }, () => outcome(decodeImage(slowish, { timeoutMs: 120_000 })));
      expect(await Promise.all(decodes)).toEqual(decodes.map(() => 'ok'));
    } finally {
      probe.restore();
    }
    // A header read and one pixel decode each.
    expect(probe.started()).toBe(2 * count);
    expect(probe.mostInFlight()).toBeLessThanOrEqual(sharedDecodeLimiter.size);
    // Every slot is given back once its decode's sharp calls have ended (a macrotask later at most).
    await new Promise((resolve) => setImmediate(resolve));
    expect(sharedDecodeLimiter.active).toBe(0);
  });
});
