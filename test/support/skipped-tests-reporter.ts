import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node';

const NO_REASON = 'no reason given';

/** Why a skipped test did not run, as far as the run knows. */
function skipReason(test: TestCase): string {
  const result = test.result();
  const given = (result.state === 'skipped' && result.note) || test.meta().skipReason;
  if (given) return given;
  if (test.options.mode === 'todo') return 'a todo';
  if (test.parent.state() === 'failed') return 'its suite failed before it ran';
  return NO_REASON;
}

/**
 * Lists every skipped test with its reason after the summary (it is listed after `default`), so
 * a missing PostgreSQL or Chromium is what a run says last, never a silent skip; with CI set,
 * such a skip fails the run.
 */
export default class SkippedTestsReporter implements Reporter {
  private vitest!: Vitest;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped = modules.flatMap((module) => [...module.children.allTests('skipped')]).map((test) => ({ test, reason: skipReason(test) }));
    // With -t, the tests left out are the filter's doing.
    const listed = this.vitest.config.testNamePattern ? skipped.filter((entry) => entry.reason !== NO_REASON) : skipped;
    if (listed.length === 0) return;
    const lines = listed.map(({ test, reason }) => `   ↓ ${test.module.relativeModuleId} > ${test.fullName}: ${reason}`);
    this.vitest.logger.log(`\n ${listed.length} test${listed.length === 1 ? '' : 's'} did not run:\n${lines.join('\n')}`);
    // CI installs every dependency (.ci/run): a test that still skips for want of one fails the run.
    if (process.env.CI && skipped.some(({ test }) => test.meta().skipReason)) {
      this.vitest.logger.error(' CI: tests skipped for a missing dependency fail the run');
      process.exitCode = 1;
    }
  }
}
