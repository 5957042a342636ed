import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests share one Redis; each uses its own queue prefix, so files may run in parallel.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // dist/, built once for the CLI tests (test/harness/build-once.ts).
    globalSetup: ['./test/harness/build-once.ts'],
    reporters: ['default', './test/harness/summary-reporter.ts'],
  },
});
