import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { defineCommands } from '@spool/queue';
import { RATE_COMMANDS } from './client-rate-limit.js';
import { RateAllowance } from './rate-allowance.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

type Reply = [allowed: number, remaining: number, retryMs: number, resetMs: number, prepaid: number];

describe('RateAllowance: prepaid requests held until late', () => {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  let redis: Redis & { spoolClientRate(key: string, ...args: number[]): Promise<Reply> };

  beforeAll(() => {
    const connection = new Redis(REDIS_URL);
    defineCommands(connection, RATE_COMMANDS);
    redis = connection as typeof redis;
  });
  afterAll(async () => {
    const found = await redis.keys(`${prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  it('a burst just before the prepaid batch expires admits no more than the plain check would (a minute’s worth, plus what refilled)', async () => {
    const rpm = 600;
    const interval = 60_000 / rpm;
    const allowance = new RateAllowance(rpm, async (charge, extra, keep) => {
      const [allowed, remaining, retryMs, resetMs, prepaid] = await redis.spoolClientRate(`${prefix}:burst`, interval, 60_000 - interval, charge, extra, keep);
      return { allowed: allowed === 1, remaining, retryMs, resetMs, prepaid };
    });
    expect((await allowance.admit()).allowed).toBe(true); // charges 1 and prepays 37
    // The bucket refills the 38 in 3.8 s; the prepaid batch is usable until 3.7 s.
    await sleep(3_500);
    const started = performance.now();
    let admitted = 0;
    while (admitted < 1_000 && (await allowance.admit()).allowed) admitted++;
    const refilled = Math.ceil((performance.now() - started) / interval);
    // The plain check: the bucket was full at the burst's start, so a minute's worth plus what refilled meanwhile.
    expect(admitted).toBeLessThanOrEqual(rpm + refilled + 1);
  });
});
