import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis, type Command } from 'ioredis';
import { newId, type UpstreamRequest } from '@spool/contracts';
import { createChatQueue, createKeys, FairScheduler } from '@spool/queue';
import { encodeEvent } from '@spool/stream';
import { JobRepository, type NewJob } from './job-repository.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const request: UpstreamRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
const newJob = (tenant: string): NewJob => ({ id: newId('job'), tenant, request, priority: 5, metadata: {}, onInterrupt: 'continue' });
const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

/** The keys of a script call (EVALSHA/EVAL sha numkeys key... arg...). */
function scriptKeys(command: Command): string[] {
  const [, count, ...rest] = command.args.map(String);
  return rest.slice(0, Number(count));
}

/**
 * Every script a job's life runs, recorded as sent on a single Redis: each call's keys must share
 * one hash slot, so that the same calls run on a cluster (where Redis refuses CROSSSLOT).
 */
describe('one hash slot per script call', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  const sent: Command[] = [];
  let redis: Redis;
  let jobs: JobRepository;
  let scheduler: FairScheduler;
  let queue: ReturnType<typeof createChatQueue>;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const send = redis.sendCommand;
    redis.sendCommand = function (this: Redis, command, ...rest) {
      sent.push(command);
      return send.call(this, command, ...rest);
    } as typeof send;
    jobs = new JobRepository(redis, keys);
    queue = createChatQueue(redis, keys.prefix);
    scheduler = new FairScheduler(redis, keys, queue, { maxAttempts: 3, settleEnded: (id) => jobs.settleEnded(id) });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    const found = [...(await redis.keys(`${keys.prefix}:*`)), ...(await redis.keys(`${keys.control}:*`))];
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  it("keeps each script of a job's life, and each multi-key command, in one slot; the job's in its own", async () => {
    await scheduler.heartbeat('w1', 10, 60_000);
    const job = newJob('t1');
    await jobs.create(job, () => scheduler.enqueue(job.tenant, [{ id: job.id, priority: 5 }]));
    const started = await jobs.start(job.id, 'o1');
    if (started.state !== 'started') throw new Error(started.state);
    await jobs.append(job.id, 'o1', [encodeEvent('delta', { content: 'a' })]);
    await jobs.recordAttempts(job.id, 'o1', []);
    await jobs.requeue(job.id, 'o1', 1, true);
    await jobs.start(job.id, 'o2');
    await jobs.snapshot(job.id);
    const result = { content: 'a', finish_reason: 'stop' as const, usage, model: 'm' };
    expect((await jobs.finish(job.id, started.fields, { status: 'succeeded', result }, { owner: 'o2' })).state).toBe('finished');
    expect((await jobs.finish(job.id, started.fields, { status: 'failed' })).state).toBe('ended');
    expect((await jobs.start(job.id, 'o3')).state).toBe('ended');
    await jobs.settleEnded(job.id);

    await jobs.createSucceeded(newJob('t1'), result, [encodeEvent('delta', { content: 'a' })], { cached: true });
    const batch = [newJob('t2'), newJob('t2')];
    await jobs.createMany(batch);
    await scheduler.enqueue('t2', batch.map(({ id }) => ({ id, priority: 5 })));
    await scheduler.waitingOn('t2', batch[0].id);
    await scheduler.chargeCall('t2', batch[0].id, 10);
    await scheduler.settleTokens('t2', batch[0].id, 10);
    await scheduler.dispatch();
    await scheduler.defer('t2', batch[0].id, 1000);
    await scheduler.reconcile(0);
    await jobs.removeMany(batch);
    await jobs.list('t1', { limit: 10 });

    const scripts = sent.filter((command) => command.name === 'evalsha' || command.name === 'eval');
    expect(scripts.length).toBeGreaterThan(20);
    for (const command of scripts) {
      const slots = new Set(scriptKeys(command).map(calculateSlot));
      expect({ keys: scriptKeys(command), slots: slots.size }).toEqual({ keys: scriptKeys(command), slots: 1 });
    }
    for (const command of sent.filter((command) => ['del', 'unlink', 'exists'].includes(command.name) && command.args.length > 1)) {
      expect(new Set(command.args.map(String).map(calculateSlot)).size).toBe(1);
    }
    // The job's own steps ran in its slot, its end's other half in the control slot.
    const jobSlot = calculateSlot(keys.job(job.id));
    const controlSlot = calculateSlot(keys.control);
    const slotsUsed = new Set(scripts.map((command) => calculateSlot(scriptKeys(command)[0])));
    expect(slotsUsed.has(jobSlot) && slotsUsed.has(controlSlot)).toBe(true);
  });
});
