import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, parseDurationMs, parseRateLimitHeaders, parseRetryAfterMs } from './rate-limit-headers.js';

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

  it('takes a negative or unreadable wait as none given (the default pause applies), never as no wait at all', () => {
    expect(parseRetryAfterMs({ 'retry-after': '-5' })).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after-ms': '-5', 'retry-after': 'abc' })).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after': '5' })).toBe(5000);
  });
});

describe('parseRateLimitHeaders', () => {
  it('reads counts, and takes any value that is not one (negative, infinite, not a number; a limit of 0) as not sent', () => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-limit-requests': '600', 'x-ratelimit-remaining-requests': '12', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-requests': '1.5s' })).toEqual({
      limitRequests: 600,
      limitTokens: undefined,
      remainingRequests: 12,
      remainingTokens: 0,
      resetRequestsMs: 1500,
      resetTokensMs: undefined,
    });
    const nonsense = parseRateLimitHeaders({ 'x-ratelimit-limit-requests': '0', 'x-ratelimit-limit-tokens': '-3', 'x-ratelimit-remaining-requests': '-5', 'x-ratelimit-remaining-tokens': '1e400', 'x-ratelimit-reset-tokens': 'never' });
    expect(nonsense).toEqual({ limitRequests: undefined, limitTokens: undefined, remainingRequests: undefined, remainingTokens: undefined, resetRequestsMs: undefined, resetTokensMs: undefined });
    expect(parseRateLimitHeaders({ 'x-ratelimit-remaining-requests': 'abc', 'x-ratelimit-remaining-tokens': ' ' }).remainingRequests).toBeUndefined();
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
