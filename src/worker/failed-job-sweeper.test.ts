import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { verdictKeyMarginMs, verdictKeySeconds } from './failed-job-sweeper.js';

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
