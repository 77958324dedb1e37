import { describe, expect, it } from 'vitest';
import { formatDuration, SlidingWindowLimiter } from './rate-limit.js';

function admit(limiter: SlidingWindowLimiter, amount: number, now: number) {
  const decision = limiter.evaluate(amount, now);
  if (decision.allowed) limiter.record(amount, now);
  return decision;
}

describe('SlidingWindowLimiter', () => {
  it('allows floor(limit / 12) + 1 in any 5 s', () => {
    const limiter = new SlidingWindowLimiter(24);
    expect(limiter.shortLimit).toBe(3);
    for (const now of [0, 100, 200]) expect(admit(limiter, 1, now).allowed).toBe(true);
    const refused = admit(limiter, 1, 1000);
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 4000, remaining: 21, used: 3 });
    expect(admit(limiter, 1, 5000).allowed).toBe(true);
    expect(admit(limiter, 1, 5050).allowed).toBe(false);
    expect(admit(limiter, 1, 5100).allowed).toBe(true);
  });

  it('allows the limit in any 60 s and says when the oldest request leaves the window', () => {
    const limiter = new SlidingWindowLimiter(12);
    for (let second = 0; second < 12; second++) {
      expect(admit(limiter, 1, second * 5000).allowed).toBe(true);
    }
    const refused = admit(limiter, 1, 58_000);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 2000, used: 12 });
    expect(refused.resetMs).toBe(55_000 + 60_000 - 58_000);
    expect(admit(limiter, 1, 60_000)).toMatchObject({ allowed: true, remaining: 0, resetMs: 60_000 });
  });

  it('counts amounts for tokens, waits for enough to expire, and admits a large request into an empty 5 s window', () => {
    const limiter = new SlidingWindowLimiter(1200);
    expect(limiter.shortLimit).toBe(101);
    expect(admit(limiter, 500, 0)).toMatchObject({ allowed: true, remaining: 700 });
    expect(admit(limiter, 10, 1000)).toMatchObject({ allowed: false, retryAfterMs: 4000 });
    expect(admit(limiter, 500, 5000)).toMatchObject({ allowed: true, remaining: 200 });
    expect(admit(limiter, 300, 10_000)).toMatchObject({ allowed: false, retryAfterMs: 50_000 });
    expect(admit(limiter, 5000, 10_000)).toMatchObject({ allowed: false, retryAfterMs: 60_000 });
  });

  it('stays correct across many entries', () => {
    const limiter = new SlidingWindowLimiter(120_000);
    let admitted = 0;
    for (let now = 0; now < 180_000; now += 10) if (admit(limiter, 1, now).allowed) admitted++;
    expect(admitted).toBe(18_000);
    // The window is (120 s, 180 s]: entries at 120.01 s to 179.99 s.
    expect(limiter.evaluate(1, 180_000).used).toBe(5999);
  });
});

describe('formatDuration', () => {
  it('writes durations the way OpenAI does', () => {
    expect(formatDuration(20)).toBe('20ms');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(2468)).toBe('2.468s');
    expect(formatDuration(360_000)).toBe('6m0s');
    expect(formatDuration(61_250)).toBe('1m1.25s');
    expect(formatDuration(0)).toBe('0ms');
  });
});
