import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { createChatQueue, createKeys, FairScheduler } from '@spool/queue';
import { REDIS_URL, silentLogger } from '../../../test/support/stack.js';
import { SchedulerLoop } from './scheduler-loop.js';

describe('SchedulerLoop', () => {
  const redis = new Redis(REDIS_URL);
  const keys = createKeys(`test-loop-${randomUUID()}`);
  const queue = createChatQueue(redis, keys.prefix);
  const scheduler = new FairScheduler(redis, keys, queue, { maxAttempts: 3, pendingLimit: 1000 });
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
  });

  const redisNow = async () => {
    const [seconds, micros] = await redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  /** Records `count` jobs of `tenant` (what the scheduler reads) and puts them in its line. */
  async function submit(tenant: string, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, i) => `job_${tenant}_${i}`);
    const pipeline = redis.pipeline();
    ids.forEach((id, i) => pipeline.zadd(keys.tenantJobs(tenant), i, id).hset(keys.job(id), { tenant, status: 'queued' }));
    await pipeline.exec();
    await scheduler.enqueue(tenant, ids.map((id) => ({ id, priority: 5 })));
    return ids;
  }

  it('frees the slot of a job waiting out a delay for that delay on Redis’s clock, whatever the worker’s clock says', async () => {
    await scheduler.heartbeat('w', 2, 60_000);
    const [a0] = await submit('a', 2); // both released: every slot held
    await submit('b', 1);
    const loop = new SchedulerLoop({ scheduler, logger: silentLogger, workerId: 'w', slots: 2, policies: new Map() });

    // This worker's clock is 10 minutes ahead of Redis's.
    const ahead = vi.spyOn(Date, 'now').mockImplementation(() => new Date().getTime() + 600_000);
    try {
      loop.deferred('a', a0, 300);
    } finally {
      ahead.mockRestore();
    }
    // a0's slot goes to the next job (b's) meanwhile.
    await expect.poll(() => redis.zscore(keys.schedulerReleased(), 'job_b_0')).not.toBeNull();

    // The wait ends 300 ms after the mark on Redis's clock (not 10 minutes later).
    const ends = Number(await redis.zscore(keys.schedulerDeferred(), a0));
    expect(ends).toBeLessThanOrEqual((await redisNow()) + 300);
    // Once it is over, a0's slot is its own again: b's job ending frees one slot, taken by nothing (a0 may come back).
    while ((await redisNow()) <= ends) await new Promise((resolve) => setTimeout(resolve, 50));
    await redis.multi().zrem(keys.tenantRunning('b'), 'job_b_0').zrem(keys.schedulerReleased(), 'job_b_0').exec();
    await submit('c', 1);
    expect(await redis.zscore(keys.schedulerReleased(), 'job_c_0')).toBeNull();
    loop.stop();
  });
});
