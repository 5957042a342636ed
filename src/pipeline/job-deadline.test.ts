import { describe, expect, it } from 'vitest';
import { DEADLINE_PASSED, GRACE_OVER, JobDeadline, scanDeadlineError } from './job-deadline.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('JobDeadline', () => {
  it('a source already aborted (the worker gave the job up before its scan began) aborts the deadline at once, with its reason', () => {
    const source = new AbortController();
    source.abort(new Error('abandoned'));
    const deadline = new JobDeadline(source.signal, scanDeadlineError(60_000), 60_000);
    expect(deadline.signal.aborted).toBe(true);
    expect((deadline.signal.reason as Error).message).toBe('abandoned');
    expect(deadline.passed).toBe(false);
    deadline.dispose();
  });

  it('aborts with its error at the deadline, and ends the grace that long after', async () => {
    const deadline = new JobDeadline(undefined, scanDeadlineError(20), 20, 60);
    const begun = performance.now();
    expect(await deadline.expired).toBe(DEADLINE_PASSED);
    expect(deadline).toMatchObject({ passed: true, signal: { aborted: true, reason: { code: 'scan_deadline' } } });
    expect(await deadline.graceOver).toBe(GRACE_OVER);
    expect(performance.now() - begun).toBeGreaterThanOrEqual(75);
    deadline.dispose();
  });

  it("starts no grace when the caller's abort comes first, nor once disposed", async () => {
    const caller = new AbortController();
    const aborted = new JobDeadline(caller.signal, scanDeadlineError(20), 20, 0);
    caller.abort(new Error('given up'));
    const disposed = new JobDeadline(undefined, scanDeadlineError(20), 20, 0);
    disposed.dispose();
    const neither = await Promise.race([aborted.graceOver, disposed.graceOver, disposed.expired, tick(60).then(() => 'neither')]);
    expect(neither).toBe('neither');
    expect(aborted).toMatchObject({ passed: false, signal: { reason: { message: 'given up' } } });
    aborted.dispose();
  });
});
