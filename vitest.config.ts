import { configDefaults, defineConfig } from 'vitest/config';

/** The core end-to-end tests, run a second time on a local 3-master Redis Cluster (API.md §10 "Scale"). */
const ON_CLUSTER = [
  'test/e2e/jobs.test.ts',
  'test/e2e/streaming.test.ts',
  'test/e2e/batches.test.ts',
  'test/e2e/resilience.test.ts',
  'test/processes/processes.test.ts',
  // what only a cluster can show: jobs spread over its masters
  'test/cluster/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: more files at once only makes timing-sensitive stream tests slower.
    maxWorkers: 2,
    // Skipped tests and why, after the summary: a missing dependency is never silent.
    reporters: ['default', './test/support/skipped-tests-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'redis',
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/cluster/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'redis-cluster',
          include: ON_CLUSTER,
          globalSetup: ['./test/support/redis-cluster-setup.ts'],
          setupFiles: ['./test/support/redis-cluster-env.ts'],
        },
      },
    ],
  },
});
