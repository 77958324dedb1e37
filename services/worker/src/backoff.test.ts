import { describe, expect, it } from 'vitest';
import { UpstreamError } from '@spool/llm';
import { retryDelayMs } from './backoff.js';
import { FailoverError } from './errors.js';

describe('retryDelayMs', () => {
  it('waits between half and all of base * 2^(n-1)', () => {
    expect(retryDelayMs(1, 1000, undefined, () => 0)).toBe(500);
    expect(retryDelayMs(1, 1000, undefined, () => 1)).toBe(1000);
    expect(retryDelayMs(4, 1000, undefined, () => 0)).toBe(4000);
    expect(retryDelayMs(4, 1000, undefined, () => 1)).toBe(8000);
  });

  it('never waits more than 60 s, however many attempts came before', () => {
    expect(retryDelayMs(40, 1000, undefined, () => 1)).toBe(60_000);
  });

  it("never waits less than upstream's retry-after", () => {
    const error = new UpstreamError('upstream_error', 'busy', true, { status: 503, retryAfterMs: 5000 });
    expect(retryDelayMs(1, 1000, error, () => 0)).toBe(5000);
  });

  it('retries at once when another upstream takes the retry (a failover)', () => {
    const error = new UpstreamError('upstream_error', 'busy', true, { status: 500 });
    expect(retryDelayMs(3, 1000, new FailoverError(error), () => 1)).toBe(0);
  });
});
