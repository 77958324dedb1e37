import type { SuiteOptions } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** why the test was skipped: what this machine lacks; the skipped-tests reporter prints it */
    skipReason?: string;
  }
}

/**
 * Options for a suite that needs something this machine may lack (PostgreSQL, Chromium): with
 * `missing` (what is missing, and how to get it) the suite is skipped, its hooks do not run, and
 * the run lists its tests with that reason in its last lines.
 */
export function skipWhenMissing(missing: string | undefined): SuiteOptions {
  return missing === undefined ? {} : { skip: true, meta: { skipReason: missing } };
}
