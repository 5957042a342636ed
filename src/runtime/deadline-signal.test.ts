import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { deadlineSignal } from './deadline-signal.js';

describe('deadlineSignal', () => {
  it("aborts with a TimeoutError once its time is up, as AbortSignal.timeout's", async () => {
    const { signal, dispose } = deadlineSignal(undefined, 20);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
    dispose();
  });

  it("aborts with the source's reason, at once when the source already has", () => {
    const source = new AbortController();
    const { signal, dispose } = deadlineSignal(source.signal, 60_000);
    const reason = new Error('job given up');
    source.abort(reason);
    expect(signal.reason).toBe(reason);
    dispose();
    expect(deadlineSignal(source.signal, 60_000).signal.reason).toBe(reason);
  });

  it('dispose() leaves nothing on a long-lived source and stops the timer', async () => {
    const source = new AbortController();
    const made = Array.from({ length: 1000 }, () => deadlineSignal(source.signal, 10));
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(1000);
    for (const { dispose } of made) dispose();
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(made.every(({ signal }) => !signal.aborted)).toBe(true);
  });
});
