/**
 * How many image decodes run at once in this process. sharp runs each decode on libuv's
 * threadpool (UV_THREADPOOL_SIZE threads, default 4), the same threads that serve file reads
 * (`{ path }` items; the unfurler's name lookups use c-ares, off the pool). Left unlimited, 16
 * image jobs of 2 images each queue 32 decodes behind 4 threads: file reads wait behind them, and
 * so do decodes whose deadline is already running. Decodes take turns here instead, and a decode's deadline starts
 * when it gets its turn (see decode.ts).
 */
import { availableParallelism } from 'node:os';

export class DecodeLimiter {
  readonly size: number;
  private holders = 0;
  private readonly queue: Array<() => void> = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`decode slots must be a positive integer, got ${size}`);
    this.size = size;
  }

  /** Slots held now (each by a decode, until its last sharp call has ended). */
  get active(): number {
    return this.holders;
  }

  /** Decodes waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves, in order of asking, once a slot is free, with the function that gives it back (once). */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.holders++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.holders--;
          this.queue.shift()?.();
        });
      };
      if (this.holders < this.size) grant();
      else this.queue.push(grant);
    });
  }
}

/** The threadpool size libuv starts with: UV_THREADPOOL_SIZE, default 4, within 1..1024. */
export function libuvThreadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.UV_THREADPOOL_SIZE;
  if (value === undefined) return 4;
  return Math.min(1024, Math.max(1, Number.parseInt(value, 10) || 1));
}

/**
 * Decodes at once: one thread fewer than the threadpool, so a lookup or file read always finds
 * a free one, and no more than the cores, since a decode is CPU work and more at once only
 * stretches each one towards its deadline. At least one.
 */
export function decodeSlotsFor(threadpoolSize: number, cores: number): number {
  return Math.max(1, Math.min(threadpoolSize - 1, cores));
}

/** The limiter every decode of this process shares unless its options name another. */
export const sharedDecodeLimiter = new DecodeLimiter(decodeSlotsFor(libuvThreadpoolSize(), availableParallelism()));
