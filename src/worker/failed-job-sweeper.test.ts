import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { scanJobOptions } from '../queues/scan-queue.js';
import { completedJobRetentionMs, failedJobRetentionMs, verdictKeyMarginMs, verdictKeySeconds } from './failed-job-sweeper.js';

describe('the margin by which verdict keys outlive the failed-job sweep window', () => {
  it('covers every stall of a job (lock duration and stalled interval each) plus a minute of clock skew', () => {
    // Defaults: 3 stalls (maxStalledCount 2, then the failing one) of 30 s + 30 s, plus 60 s.
    const defaults = loadConfig({});
    expect(verdictKeyMarginMs(defaults)).toBe(240_000);
    expect(verdictKeySeconds(defaults)).toBe(86_400 + 240);
    expect(verdictKeyMarginMs({ lockDurationMs: 5000, stalledIntervalMs: 2000, maxStalledCount: 0 })).toBe(67_000);
    expect(verdictKeyMarginMs({ lockDurationMs: 1000, stalledIntervalMs: 500, maxStalledCount: 4 })).toBe(67_500);
  });

  it('keeps a verdict past the window however small the retention, in whole seconds (the window stays the retention)', () => {
    const tiny = loadConfig({}, { verdictRetentionSeconds: 1, lockDurationMs: 1000, stalledIntervalMs: 300, maxStalledCount: 0 });
    expect(verdictKeySeconds(tiny)).toBe(1 + 62); // 61.3 s margin, rounded up
    for (const config of [tiny, loadConfig({}), loadConfig({}, { verdictRetentionSeconds: 60, maxStalledCount: 10 })]) {
      expect(Number.isInteger(verdictKeySeconds(config))).toBe(true);
      expect(verdictKeySeconds(config) * 1000).toBeGreaterThanOrEqual(config.verdictRetentionSeconds * 1000 + verdictKeyMarginMs(config));
    }
  });
});

describe('the failed-job retention the sweep removes failed jobs after', () => {
  it('is the removeOnFail age the client gives its jobs (7x its retentionSeconds), read from their options', () => {
    expect(failedJobRetentionMs(scanJobOptions({ attempts: 5, backoffMs: 1000, retentionSeconds: 86_400 }))).toBe(7 * 86_400_000);
    expect(failedJobRetentionMs(scanJobOptions({ attempts: 1, backoffMs: 0, retentionSeconds: 1 }))).toBe(7000);
  });

  it('is none for a job added without an age (kept, as BullMQ keeps it)', () => {
    for (const removeOnFail of [undefined, false, true, 1000, { count: 10 }]) expect(failedJobRetentionMs({ removeOnFail })).toBeUndefined();
    expect(failedJobRetentionMs({ removeOnFail: { age: 0 } })).toBe(0);
  });
});

describe('the completed-job retention the sweep removes completed jobs after', () => {
  it('is the removeOnComplete age the client gives its jobs (its retentionSeconds), read from their options', () => {
    expect(completedJobRetentionMs(scanJobOptions({ attempts: 5, backoffMs: 1000, retentionSeconds: 86_400 }))).toBe(86_400_000);
    expect(completedJobRetentionMs(scanJobOptions({ attempts: 1, backoffMs: 0, retentionSeconds: 1 }))).toBe(1000);
  });

  it('is none for a job kept by count only or added without an age (BullMQ never removes it by age)', () => {
    for (const removeOnComplete of [undefined, false, true, 1000, { count: 10 }]) expect(completedJobRetentionMs({ removeOnComplete })).toBeUndefined();
    expect(completedJobRetentionMs({ removeOnComplete: { age: 0, count: 5 } })).toBe(0);
  });
});
