import { afterAll, describe, expect, it } from 'vitest';
import { rateScriptRedis } from '../../../test/support/rate-script.js';

type Reply = [allowed: number, remaining: number, retryMs: number, resetMs: number];

describe('client-rate.lua (GCRA)', () => {
  const { prefix, redis, close } = rateScriptRedis<{ spoolClientRate(key: string, interval: number, tolerance: number): Promise<Reply> }>();
  afterAll(close);

  it('allows a burst of tolerance/interval + 1, counting down what remains, then refuses with the wait for the next', async () => {
    const key = `${prefix}:burst`;
    // 6 a minute: one every 10 s, up to a minute's worth at once
    const [interval, tolerance] = [10_000, 50_000];
    const replies: Reply[] = [];
    for (let i = 0; i < 7; i++) replies.push(await redis.spoolClientRate(key, interval, tolerance));
    expect(replies.slice(0, 6).map(([allowed, remaining]) => [allowed, remaining])).toEqual([[1, 5], [1, 4], [1, 3], [1, 2], [1, 1], [1, 0]]);
    const [allowed, remaining, retryMs, resetMs] = replies[6];
    expect([allowed, remaining]).toEqual([0, 0]);
    // the next request fits once the first one's interval has passed
    expect(retryMs).toBeGreaterThan(9_000);
    expect(retryMs).toBeLessThanOrEqual(10_000);
    expect(resetMs).toBeGreaterThan(59_000);
    expect(resetMs).toBeLessThanOrEqual(60_000);
    expect(await redis.pttl(key)).toBeGreaterThan(60_000);
  });

  it('a refusal takes nothing: the arrival time stays where the last allowed request left it', async () => {
    const key = `${prefix}:refused`;
    await redis.spoolClientRate(key, 60_000, 0);
    const stored = await redis.get(key);
    expect((await redis.spoolClientRate(key, 60_000, 0))[0]).toBe(0);
    expect(await redis.get(key)).toBe(stored);
  });
});
