import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { newId } from '@spool/contracts';
import { JobRepository } from '@spool/jobs';
import { UpstreamError } from '@spool/llm';
import { createKeys, type ChatJobData } from '@spool/queue';
import { Attempt } from './attempt.js';
import { AttemptMetrics } from './attempt-metrics.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUEUE = 'chat';

describe('Attempt: how an attempt leaves its job', () => {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  const keys = createKeys(prefix);
  const logger = pino({ level: 'silent' });
  let redis: Redis;
  let queue: Queue<ChatJobData>;
  let workerConnection: Redis;
  let worker: Worker<ChatJobData>;
  let jobs: JobRepository;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue<ChatJobData>(QUEUE, { connection: redis, prefix });
    // No processor: the test takes jobs itself, as a worker's attempt would.
    workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    worker = new Worker<ChatJobData>(QUEUE, null, { connection: workerConnection, prefix });
    jobs = new JobRepository(redis, keys);
  });
  afterAll(async () => {
    await worker.close();
    await queue.close();
    const found = await redis.keys(`${prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await Promise.all([redis.quit(), workerConnection.quit()]);
  });

  /** A queued job, taken by this test's worker under `token`. */
  async function takeJob(token: string): Promise<Job<ChatJobData>> {
    const id = newId('job');
    await jobs.create({ id, tenant: 't', request: { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, priority: 5, metadata: {}, onInterrupt: 'continue' });
    await queue.add('chat', { jobId: id }, { jobId: id });
    const job = await worker.getNextJob(token);
    expect(job?.id).toBe(id);
    return job!;
  }

  const start = async (job: Job<ChatJobData>, token: string) => (await Attempt.start(jobs, job, token, logger, new AttemptMetrics(undefined, job)))!;

  it('handBack gives the attempt back and parks the BullMQ job, delayed, until it is due', async () => {
    const token = randomUUID();
    const job = await takeJob(token);
    const attempt = await start(job, token);
    expect(attempt).toMatchObject({ number: 1, eventCount: 2, record: { deferrals: 0 } });

    await expect(attempt.handBack(60_000)).rejects.toBeInstanceOf(DelayedError);
    expect(await queue.getJobState(job.id!)).toBe('delayed');
    expect(await jobs.get(attempt.jobId)).toMatchObject({ status: 'queued', attempts: '0', deferrals: '1' });
    const again = await start(job, token);
    expect(again).toMatchObject({ number: 1, record: { deferrals: 1 } });
  });

  it('retry hands the job back counted and rethrows for BullMQ to back off', async () => {
    const token = randomUUID();
    const job = await takeJob(token);
    const attempt = await start(job, token);
    const error = new UpstreamError('upstream_error', 'busy', true, { status: 503 });

    await expect(attempt.retry(error)).rejects.toBe(error);
    const fields = await jobs.get(attempt.jobId);
    expect(fields).toMatchObject({ status: 'queued', attempts: '1' });
    expect(fields?.deferrals).toBeUndefined();
  });

  it('an attempt whose job was taken over hands nothing back and leaves the BullMQ job alone', async () => {
    const token = randomUUID();
    const job = await takeJob(token);
    const overtaken = await start(job, token);
    const current = await start(job, token);

    await expect(overtaken.handBack(0)).resolves.toBeUndefined();
    await expect(overtaken.retry(new UpstreamError('upstream_error', 'busy', true))).resolves.toBeUndefined();
    await overtaken.fail({ code: 'upstream_error', message: 'busy' }, 'partial');
    expect(await queue.getJobState(job.id!)).toBe('active');
    expect(await jobs.get(current.jobId)).toMatchObject({ status: 'running', attempts: '2' });
  });
});
