import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { newId, type UpstreamRequest } from '@spool/contracts';
import { createKeys } from '@spool/queue';
import { encodeEvent } from '@spool/stream';
import { JobRepository, type NewJob } from './job-repository.js';
import { TenantQuotaError } from './tenant-quota-error.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const request = (content: string): UpstreamRequest => ({ model: 'm', messages: [{ role: 'user', content }] });
const newJob = (tenant: string, content = 'hello'): NewJob => ({ id: newId('job'), tenant, request: request(content), priority: 5, metadata: {}, onInterrupt: 'continue' });
const bytesOf = (job: NewJob) => Buffer.byteLength(JSON.stringify(job.request));
const failed = { status: 'failed' as const, error: { code: 'upstream_error', message: 'no' } };

describe('JobRepository: tenant quotas and the tenant index', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const found = [...(await redis.keys(`${keys.prefix}:*`)), ...(await redis.keys(`${keys.control}:*`))];
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  /** A tenant's quota counters (without each job's entry). */
  const quota = async (tenant: string) => {
    const [jobs, bytes] = await redis.hmget(keys.tenantQuota(tenant), 'jobs', 'bytes');
    return Object.fromEntries(Object.entries({ jobs, bytes }).filter(([, value]) => value !== null));
  };
  const refusal = (work: Promise<unknown>) => work.then(() => null, (error: unknown) => error);

  it("counts a tenant's jobs until they end and refuses one past the jobs quota, writing nothing; other tenants are not held", async () => {
    const jobs = new JobRepository(redis, keys, { maxQueuedJobs: 2 });
    const [a, b] = [newJob('t-jobs'), newJob('t-jobs')];
    await jobs.create(a);
    await jobs.create(b);
    expect(await quota('t-jobs')).toEqual({ jobs: '2', bytes: String(bytesOf(a) + bytesOf(b)) });

    const c = newJob('t-jobs');
    const error = await refusal(jobs.create(c));
    expect(error).toBeInstanceOf(TenantQuotaError);
    expect(error).toMatchObject({ code: 'tenant_quota_exceeded', quota: 'jobs', limit: 2 });
    expect(await redis.exists(keys.job(c.id), keys.events(c.id))).toBe(0);
    expect(await redis.zscore(keys.tenantJobs('t-jobs'), c.id)).toBeNull();
    expect(await quota('t-jobs')).toMatchObject({ jobs: '2' });

    await jobs.create(newJob('t-other'));

    await jobs.finish(a.id, (await jobs.get(a.id))!, failed);
    expect(await quota('t-jobs')).toEqual({ jobs: '1', bytes: String(bytesOf(b)) });
    await jobs.create(c);
  });

  it('keeps the trace context a job was submitted in, for its worker', async () => {
    const jobs = new JobRepository(redis, keys);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const traced = { ...newJob('t-trace'), traceparent, queuedAtMs: 1_700_000_000_123 };
    const untraced = newJob('t-trace');
    await jobs.create(traced);
    await jobs.createMany([untraced]);
    expect(await jobs.traceOf(traced.id)).toEqual({ traceparent, queuedAtMs: 1_700_000_000_123 });
    expect(await jobs.traceOf(untraced.id)).toEqual({});
    expect(await redis.hexists(keys.job(untraced.id), 'traceparent')).toBe(0);
  });

  it('refuses a job past the bytes quota', async () => {
    const small = newJob('t-bytes', 'x'.repeat(100));
    const jobs = new JobRepository(redis, keys, { maxQueuedBytes: bytesOf(small) * 2 });
    await jobs.create(small);
    await jobs.create(newJob('t-bytes', 'y'.repeat(100)));
    const error = await refusal(jobs.create(newJob('t-bytes', 'z')));
    expect(error).toMatchObject({ code: 'tenant_quota_exceeded', quota: 'bytes', limit: bytesOf(small) * 2 });
    expect((error as Error).message).toMatch(/bytes/);
  });

  it('gives the quota back exactly once whichever way a job ends, and forgets a tenant with nothing queued', async () => {
    const jobs = new JobRepository(redis, keys);
    const [succeeds, fails, cancelled] = [newJob('t-ends'), newJob('t-ends'), newJob('t-ends')];
    for (const job of [succeeds, fails, cancelled]) await jobs.create(job);
    expect(await quota('t-ends')).toMatchObject({ jobs: '3' });

    const started = await jobs.start(succeeds.id, 'worker-1');
    if (started.state !== 'started') throw new Error('not started');
    const result = { content: 'y', finish_reason: 'stop' as const, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
    expect((await jobs.finish(succeeds.id, started.fields, { status: 'succeeded', result }, { owner: 'worker-1' })).state).toBe('finished');
    // a second ending (a cancel racing the worker, a replay) is refused and changes nothing
    expect((await jobs.finish(succeeds.id, started.fields, failed)).state).toBe('ended');
    expect(await quota('t-ends')).toEqual({ jobs: '2', bytes: String(bytesOf(fails) + bytesOf(cancelled)) });

    await jobs.finish(fails.id, (await jobs.get(fails.id))!, failed);
    await jobs.finish(cancelled.id, (await jobs.get(cancelled.id))!, { status: 'cancelled', error: { code: 'cancelled', message: 'The job was cancelled' } });
    expect(await redis.exists(keys.tenantQuota('t-ends'))).toBe(0);
  });

  it('repairs an end whose ender died between its two steps: whoever meets the job ended applies the control half, once', async () => {
    const jobs = new JobRepository(redis, keys);
    const [viaStart, viaFinish, viaReconcile] = [newJob('t-repair'), newJob('t-repair'), newJob('t-repair')];
    for (const job of [viaStart, viaFinish, viaReconcile]) await jobs.create(job);
    await redis.unlink(keys.outbox());
    // FINISH alone, as a process killed before ENDED leaves it: the record ended, the control slot untouched.
    const finishOnly = (id: string) =>
      (redis as unknown as { spoolFinish(...args: (string | number)[]): Promise<unknown> }).spoolFinish(
        keys.job(id), keys.events(id), keys.eventsChannel(id), 'PUBLISH', '', '', encodeEvent('done', {} as never), 60, 60, 'status', 'cancelled', 'ended_tokens', '0 4',
      );
    for (const job of [viaStart, viaFinish, viaReconcile]) await finishOnly(job.id);
    expect(await quota('t-repair')).toMatchObject({ jobs: '3' });
    expect(await redis.llen(keys.outbox())).toBe(0);

    expect((await jobs.start(viaStart.id, 'worker')).state).toBe('ended');
    expect((await jobs.finish(viaFinish.id, (await jobs.get(viaFinish.id))!, failed)).state).toBe('ended');
    await jobs.settleEnded(viaReconcile.id);
    expect(await redis.exists(keys.tenantQuota('t-repair'))).toBe(0);
    expect((await redis.lrange(keys.outbox(), 0, -1)).sort()).toEqual([viaStart.id, viaFinish.id, viaReconcile.id].sort());

    // Met again, nothing more happens.
    await jobs.start(viaStart.id, 'worker');
    await jobs.settleEnded(viaReconcile.id);
    expect(await redis.llen(keys.outbox())).toBe(3);
  });

  it('creates a batch over quota nowhere: checkQuota refuses it whole before anything is written, and createMany counts it', async () => {
    const jobs = new JobRepository(redis, keys, { maxQueuedJobs: 3 });
    await jobs.create(newJob('t-batch'));
    const batch = [newJob('t-batch'), newJob('t-batch'), newJob('t-batch')];
    expect(await refusal(jobs.checkQuota('t-batch', batch.map((job) => job.request)))).toMatchObject({ quota: 'jobs' });
    const fits = batch.slice(0, 2);
    await jobs.checkQuota('t-batch', fits.map((job) => job.request));
    await jobs.createMany(fits);
    expect(await quota('t-batch')).toMatchObject({ jobs: '3' });
    expect(await refusal(jobs.createMany([batch[2]]))).toMatchObject({ quota: 'jobs' });
  });

  it('drops ended jobs from the tenant index once their records expire, when a job ends and when the tenant lists', async () => {
    const jobs = new JobRepository(redis, keys, { eventsTtlSeconds: 1, recordTtlSeconds: 1 });
    const [a, b, c] = [newJob('t-index'), newJob('t-index'), newJob('t-index')];
    for (const job of [a, b, c]) await jobs.create(job);
    await jobs.finish(a.id, (await jobs.get(a.id))!, failed);
    await jobs.finish(b.id, (await jobs.get(b.id))!, failed);
    await vi.waitFor(async () => expect(await redis.exists(keys.job(a.id), keys.job(b.id))).toBe(0), { timeout: 5000, interval: 100 });
    expect(await redis.zcard(keys.tenantJobs('t-index'))).toBe(3);

    await jobs.finish(c.id, (await jobs.get(c.id))!, failed);
    expect(await redis.zrange(keys.tenantJobs('t-index'), '0', '-1')).toEqual([c.id]);
    expect(await redis.zrange(keys.tenantJobsExpiry('t-index'), '0', '-1')).toEqual([c.id]);

    await vi.waitFor(async () => expect(await redis.exists(keys.job(c.id))).toBe(0), { timeout: 5000, interval: 100 });
    expect(await jobs.list('t-index', { limit: 20 })).toEqual({ data: [], hasMore: false });
    expect(await redis.exists(keys.tenantJobs('t-index'), keys.tenantJobsExpiry('t-index'))).toBe(0);
  });

  it('drops from the index a job whose record expired before its expiry was noted, when the tenant lists', async () => {
    const jobs = new JobRepository(redis, keys);
    const [kept, gone] = [newJob('t-legacy'), newJob('t-legacy')];
    for (const job of [kept, gone]) await jobs.create(job);
    await redis.del(keys.job(gone.id)); // as a record of an older version expires: no expiry-set entry
    const listed = await jobs.list('t-legacy', { limit: 1 });
    expect(listed.data.map((job) => job.id)).toEqual([kept.id]);
    expect(listed.hasMore).toBe(false);
    expect(await redis.zrange(keys.tenantJobs('t-legacy'), '0', '-1')).toEqual([kept.id]);
  });

  it('records a cache hit as a job that succeeded at once: its whole log, the outbox, the index, and no quota held', async () => {
    const jobs = new JobRepository(redis, keys);
    const job = { ...newJob('t-cached', 'cached'), cache: { hash: 'ab', ttl_s: 60 } };
    const result = { content: 'the reply', finish_reason: 'stop' as const, usage: { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 } };
    const entries = ['delta\n{"content":"the "}', 'delta\n{"content":"reply"}'];
    const ended = await jobs.createSucceeded(job, result, entries, { cached: true });
    expect(ended).toMatchObject({ id: job.id, status: 'succeeded', cached: true, attempts: 1, result });
    const { fields, events } = await jobs.snapshot(job.id);
    expect(events.map((event) => event.event)).toEqual(['status', 'status', 'delta', 'delta', 'done']);
    expect(JSON.parse(events.at(-1)!.data)).toEqual(ended);
    expect(fields).toMatchObject({ status: 'succeeded', cached: '1', cache: '{"hash":"ab","ttl_s":60}' });
    expect(fields!.owner).toBeUndefined();
    expect(await redis.lrange(keys.outbox(), 0, -1)).toContain(job.id);
    expect(await redis.zscore(keys.tenantJobs('t-cached'), job.id)).not.toBeNull();
    expect(await quota('t-cached')).toEqual({});
  });

  it('refuses a cache hit past the jobs quota, writing nothing', async () => {
    const jobs = new JobRepository(redis, keys, { maxQueuedJobs: 1 });
    await jobs.create(newJob('t-cached-full'));
    const job = newJob('t-cached-full');
    const result = { content: 'x', finish_reason: 'stop' as const, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
    expect(await refusal(jobs.createSucceeded(job, result, [], { cached: true }))).toBeInstanceOf(TenantQuotaError);
    expect(await redis.exists(keys.job(job.id), keys.events(job.id))).toBe(0);
    expect(await redis.lrange(keys.outbox(), 0, -1)).not.toContain(job.id);
  });
});
