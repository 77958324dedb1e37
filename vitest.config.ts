import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: more files at once only makes timing-sensitive stream tests slower.
    maxWorkers: 2,
    // Skipped tests and why, after the summary: a missing dependency is never silent.
    reporters: ['default', './test/support/skipped-tests-reporter.ts'],
  },
});
