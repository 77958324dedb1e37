import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, parseDurationMs, parseRetryAfterMs } from './rate-limit-headers.js';

describe('parseRetryAfterMs', () => {
  it('reads retry-after-ms before retry-after, in whole milliseconds (Redis takes no fractions)', () => {
    expect(parseRetryAfterMs({ 'retry-after-ms': '12.25', 'retry-after': '9' })).toBe(13);
    expect(parseRetryAfterMs({ 'retry-after': '0.0015' })).toBe(2);
    expect(parseRetryAfterMs({ 'retry-after': new Date(10_500).toUTCString() }, 9_000)).toBe(1_000);
    expect(parseRetryAfterMs({})).toBeUndefined();
  });

  it('caps a wait no upstream means at an hour, so one answer cannot hold the queue for good', () => {
    expect(parseRetryAfterMs({ 'retry-after': '1e12' })).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfterMs({ 'retry-after-ms': '99999999999999999999' })).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe('parseDurationMs', () => {
  it("reads OpenAI's reset durations in whole milliseconds, at most an hour, whatever the digits", () => {
    expect(parseDurationMs('6m2.5s')).toBe(362_500);
    expect(parseDurationMs('20.4ms')).toBe(21);
    expect(parseDurationMs('9999h')).toBe(MAX_RETRY_AFTER_MS);
    expect(parseDurationMs(`${'9'.repeat(400)}s`)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseDurationMs('soon')).toBeUndefined();
  });
});
