import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests share one Redis; each uses its own queue prefix, so files may run in parallel.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // vitest's default (cores - 1) runs one file at a time on CI's 2 cores, yet most integration
    // files spend their time waiting on child processes, Redis and timers: two side by side take
    // the suite from about 10 to under 6 minutes there. More than that starved timing checks.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // dist/, built once for the CLI tests (test/harness/build-once.ts).
    globalSetup: ['./test/harness/build-once.ts'],
    reporters: ['default', './test/harness/summary-reporter.ts'],
  },
});
