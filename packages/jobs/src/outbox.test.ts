import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { newId } from '@spool/contracts';
import { createKeys } from '@spool/queue';
import { JobRepository } from './job-repository.js';
import { JobOutbox } from './outbox.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('JobOutbox', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  let redis: Redis;
  let blocking: Redis;
  let jobs: JobRepository;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    blocking = new Redis(REDIS_URL);
    jobs = new JobRepository(redis, keys);
  });
  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await redis.quit();
    await blocking.quit();
  });

  async function endJob(sessionId?: string): Promise<string> {
    const id = newId('job');
    await jobs.create({ id, tenant: 't', request: { model: 'm', messages: [{ role: 'user', content: 'x' }] }, priority: 5, metadata: {}, onInterrupt: 'continue', sessionId });
    const fields = (await jobs.get(id))!;
    await jobs.finish(id, fields, { status: 'succeeded', result: { content: 'y', finish_reason: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } });
    return id;
  }

  async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  it('handles many entries at once, each job of a session in the order they ended, and clears its claims', async () => {
    const seen: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const outbox = new JobOutbox(redis, blocking, keys, { concurrency: 8 }).use(async (job) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
      seen.push(job.id);
      inFlight--;
    });
    const loose: string[] = [];
    const session: string[] = [];
    for (let i = 0; i < 40; i++) {
      loose.push(await endJob());
      if (i % 2 === 0) session.push(await endJob('sess_ordered'));
    }
    outbox.start();
    await until(() => seen.length === 60);
    await outbox.stop();
    expect([...seen].sort()).toEqual([...loose, ...session].sort());
    expect(seen.filter((id) => session.includes(id))).toEqual(session);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(8);
    expect(await redis.llen(keys.outbox())).toBe(0);
    expect(await redis.llen(keys.outboxProcessing())).toBe(0);
    expect(await redis.hlen(keys.outboxClaims())).toBe(0);
  });

  it('hands an entry whose handler failed back after reclaimAfterMs, and handles it again', async () => {
    let calls = 0;
    const errors: string[] = [];
    const outbox = new JobOutbox(redis, blocking, keys, { reclaimAfterMs: 200, onError: (_error, jobId) => errors.push(jobId) }).use(async () => {
      if (++calls === 1) throw new Error('store down');
    });
    const id = await endJob();
    outbox.start();
    await until(() => calls >= 2, 5000);
    await outbox.stop();
    expect(calls).toBe(2);
    expect(errors).toEqual([id]);
    expect(await redis.llen(keys.outboxProcessing())).toBe(0);
  });
});
