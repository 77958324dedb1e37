import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { StatusEventData } from '@spool/contracts';
import { createKeys, defineCommands } from '@spool/queue';
import { decodeEntry, encodeEvent, EventLog } from '@spool/stream';
import { BATCH_COMMANDS, JOB_COMMANDS, OUTBOX_COMMANDS, type BatchCommands, type JobCommands, type OutboxCommands } from './commands.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Every script of packages/jobs driven directly: its KEYS and ARGV, its replies, its guards. */
describe('jobs Lua commands', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  const tenant = 't';
  let redis: Redis & JobCommands & OutboxCommands & BatchCommands;
  let log: EventLog;

  beforeAll(() => {
    const connection = new Redis(REDIS_URL);
    defineCommands(connection, { ...JOB_COMMANDS, ...OUTBOX_COMMANDS, ...BATCH_COMMANDS });
    redis = connection as typeof redis;
    log = new EventLog(redis, keys);
  });
  afterAll(async () => {
    const found = [...(await redis.keys(`${keys.prefix}:*`)), ...(await redis.keys(`${keys.control}:*`))];
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  /** a job-slot script's keys and publish command (single Redis: plain PUBLISH) */
  const eventScriptArgs = (id: string) => [keys.job(id), keys.events(id), keys.eventsChannel(id), 'PUBLISH'];
  const quota = (name = tenant) => redis.hgetall(keys.tenantQuota(name));
  /** the quota's counters, without the per-job entries */
  const counters = async (name = tenant) => {
    const { jobs, bytes } = await quota(name);
    return { jobs, bytes };
  };
  const queuedEntry = encodeEvent('status', { status: 'queued', attempt: 1 });
  const schedulerKeys = (name: string) => [keys.tenantWaiting(name), keys.tenantRunning(name), keys.schedulerReleased(), keys.schedulerPending(), keys.schedulerDeferred(), keys.tenantDeferred(name)];

  /** create.lua: the record (the job's slot). */
  const record = (id: string, ttl = 7200, name = tenant) => redis.spoolCreate(...eventScriptArgs(id), queuedEntry, ttl, 'tenant', name, 'status', 'queued', 'attempts', 0);
  /** admit.lua for a job of `bytes` request bytes, within the given quota (the control slot). */
  const admit = (id: string, { bytes = 10, maxJobs = 100, maxBytes = 1000, estTokens = 50, name = tenant } = {}) =>
    redis.spoolAdmit(keys.tenantQuota(name), keys.submissionCounter(), keys.tenantJobs(name), keys.tenantEstimates(name), id, bytes, maxJobs, maxBytes, estTokens);
  /** Both steps, as JobRepository.create takes them: admit's reply, or create's -1. */
  async function create(id: string, options: Parameters<typeof admit>[1] = {}) {
    const created = await record(id, 7200, options.name);
    return created < 0 ? created : admit(id, options);
  }
  const start = (id: string, owner: string, now = 100) => redis.spoolStart(...eventScriptArgs(id), owner, now);
  const append = (id: string, owner: string, streamEnd: string, ...entries: string[]) => redis.spoolAppend(...eventScriptArgs(id), owner, streamEnd, ...entries);
  const requeue = (id: string, owner: string, refund: boolean) =>
    redis.spoolRequeue(...eventScriptArgs(id), owner, refund ? '1' : '0', encodeEvent('status', { status: 'queued', attempt: 1 }));
  /** finish.lua (the job's slot): its reply's code. */
  async function finish(id: string, { owner = '', expected = '' as number | '', eventsTtl = 3600, jobTtl = 7200, status = 'failed', prompt = 0, completion = 0 } = {}) {
    const reply = await redis.spoolFinish(
      ...eventScriptArgs(id), owner, expected, encodeEvent('done', { id } as never), eventsTtl, jobTtl, 'status', status, 'finished_at', 200, 'ended_tokens', `${prompt} ${completion}`,
    );
    return reply[0];
  }
  /** ended.lua (the control slot). */
  const ended = (id: string, { status = 'failed', prompt = 0, completion = 0, recordTtl = 7200, name = tenant } = {}) =>
    redis.spoolEnded(
      keys.tenantQuota(name), keys.outbox(), keys.tenantJobs(name), keys.tenantJobsExpiry(name), ...schedulerKeys(name), keys.fleetJobs(), keys.fleetTokens(), keys.tenantEstimates(name),
      id, status, name, prompt, completion, recordTtl,
    );
  const running = async (id: string, owner: string) => {
    await create(id);
    await start(id, owner);
  };

  describe('create.lua, admit.lua and admitted.lua', () => {
    it('records the job and its queued event, expiring until admitted; ADMIT counts it against the quota and gives its place in the index', async () => {
      const before = await counters();
      expect(await record('job_c1')).toBe(1);
      expect(await redis.hgetall(keys.job('job_c1'))).toMatchObject({ tenant, status: 'queued' });
      expect(await log.readAfter('job_c1')).toEqual([decodeEntry(1, queuedEntry)]);
      expect(await redis.ttl(keys.job('job_c1'))).toBeGreaterThan(7100);
      expect(await redis.ttl(keys.events('job_c1'))).toBeGreaterThan(7100);

      const seq = await admit('job_c1', { bytes: 7, estTokens: 42 });
      expect(seq).toBeGreaterThan(0);
      expect(await redis.zscore(keys.tenantJobs(tenant), 'job_c1')).toBe(String(seq));
      expect(await counters()).toEqual({ jobs: String(Number(before.jobs ?? 0) + 1), bytes: String(Number(before.bytes ?? 0) + 7) });
      expect((await quota()).job_c1).toBe('7');
      expect(await redis.hget(keys.tenantEstimates(tenant), 'job_c1')).toBe('42');

      expect(await redis.spoolAdmitted(keys.job('job_c1'), keys.events('job_c1'))).toBe(1);
      expect(await redis.ttl(keys.job('job_c1'))).toBe(-1);
      expect(await redis.ttl(keys.events('job_c1'))).toBe(-1);
      expect(await create('job_c2')).toBe(seq + 1);
    });

    it('-1 for a job that exists (at either step), -2 past the jobs quota, -3 past the bytes quota, each writing nothing', async () => {
      await create('job_c3');
      const held = await quota();
      const counter = await redis.get(keys.submissionCounter());
      expect(await record('job_c3')).toBe(-1);
      expect(await admit('job_c3')).toBe(-1);
      expect(await admit('job_c4', { maxJobs: Number(held.jobs) })).toBe(-2);
      expect(await admit('job_c4', { bytes: 11, maxBytes: Number(held.bytes) + 10 })).toBe(-3);
      expect(await quota()).toEqual(held);
      expect(await redis.get(keys.submissionCounter())).toBe(counter);
      expect(await redis.llen(keys.events('job_c3'))).toBe(1);
    });

    it('ADMITTED leaves an ended job its expiry, and a missing one missing', async () => {
      await running('job_c5', 'w');
      await finish('job_c5', { jobTtl: 500 });
      expect(await redis.spoolAdmitted(keys.job('job_c5'), keys.events('job_c5'))).toBe(0);
      expect(await redis.ttl(keys.job('job_c5'))).toBeGreaterThan(400);
      expect(await redis.spoolAdmitted(keys.job('job_none'), keys.events('job_none'))).toBe(0);
      expect(await redis.exists(keys.job('job_none'))).toBe(0);
    });
  });

  describe('start.lua', () => {
    it("'missing' for no job; 'ended' for an ended one, with what ENDED needs", async () => {
      expect(await start('job_none', 'w')).toEqual(['missing']);
      await create('job_s1');
      await finish('job_s1', { prompt: 3, completion: 4 });
      expect(await start('job_s1', 'w')).toEqual(['ended', 'failed', tenant, '3 4']);
    });

    it('counts the attempt, takes the owner, keeps the first started_at, and appends a running status the schema parses', async () => {
      await create('job_s2');
      const [state, eventCount, ...pairs] = await start('job_s2', 'w1', 100);
      expect([state, eventCount]).toEqual(['started', 2]);
      expect(pairs).toEqual(expect.arrayContaining(['attempts', '1', 'owner', 'w1', 'status', 'running', 'started_at', '100']));
      expect(await start('job_s2', 'w2', 300)).toEqual(expect.arrayContaining(['started', 3, 'attempts', '2', 'owner', 'w2', 'started_at', '100']));
      const [, first, second] = await log.readAfter('job_s2');
      expect(first.event).toBe('status');
      expect(StatusEventData.parse(JSON.parse(first.data))).toEqual({ status: 'running', attempt: 1 });
      expect(StatusEventData.parse(JSON.parse(second.data))).toEqual({ status: 'running', attempt: 2 });
    });
  });

  describe('append.lua', () => {
    it("appends as the owner and returns the last event's id (0 with none); records stream_end when given", async () => {
      await running('job_a1', 'w');
      const deltas = [encodeEvent('delta', { content: 'a' }), encodeEvent('delta', { content: 'b' })];
      expect(await append('job_a1', 'w', '', ...deltas)).toBe(4);
      expect(await redis.hget(keys.job('job_a1'), 'stream_end')).toBeNull();
      expect(await append('job_a1', 'w', '{"finish_reason":"stop"}')).toBe(0);
      expect(await redis.hget(keys.job('job_a1'), 'stream_end')).toBe('{"finish_reason":"stop"}');
      expect((await log.readAfter('job_a1', 2)).map((event) => event.data)).toEqual(['{"content":"a"}', '{"content":"b"}']);
    });

    it('-1 for another owner or an ended job, writing nothing', async () => {
      await running('job_a2', 'w');
      expect(await append('job_a2', 'other', '{"x":1}', encodeEvent('delta', { content: 'a' }))).toBe(-1);
      await finish('job_a2');
      expect(await append('job_a2', 'w', '', encodeEvent('delta', { content: 'a' }))).toBe(-1);
      expect(await redis.hget(keys.job('job_a2'), 'stream_end')).toBeNull();
      expect((await log.readAfter('job_a2')).map((event) => event.event)).toEqual(['status', 'status', 'done']);
    });
  });

  describe('requeue.lua', () => {
    it('-1 for another owner or an ended job', async () => {
      await running('job_r1', 'w');
      expect(await requeue('job_r1', 'other', false)).toBe(-1);
      expect(await redis.hmget(keys.job('job_r1'), 'status', 'owner')).toEqual(['running', 'w']);
      await finish('job_r1');
      expect(await requeue('job_r1', 'w', false)).toBe(-1);
    });

    it('queues the job again without an owner; the attempt counts unless given back, which counts a deferral', async () => {
      await running('job_r2', 'w');
      expect(await requeue('job_r2', 'w', false)).toBe(3);
      expect(await redis.hmget(keys.job('job_r2'), 'status', 'owner', 'attempts', 'deferrals')).toEqual(['queued', null, '1', null]);
      await start('job_r2', 'w2');
      expect(await requeue('job_r2', 'w2', true)).toBe(5);
      expect(await redis.hmget(keys.job('job_r2'), 'status', 'owner', 'attempts', 'deferrals')).toEqual(['queued', null, '1', '1']);
      expect((await log.readAfter('job_r2', 4))[0].event).toBe('status');
    });
  });

  describe('record-attempts.lua', () => {
    it("writes the attempt log for the job's owner only, and not once the job ended", async () => {
      await running('job_l1', 'w');
      expect(await redis.spoolRecordAttempts(keys.job('job_l1'), 'other', '[1]')).toBe(-1);
      expect(await redis.hget(keys.job('job_l1'), 'attempt_log')).toBeNull();
      expect(await redis.spoolRecordAttempts(keys.job('job_l1'), 'w', '[{"attempt":1}]')).toBe(1);
      expect(await redis.hget(keys.job('job_l1'), 'attempt_log')).toBe('[{"attempt":1}]');
      await finish('job_l1');
      expect(await redis.spoolRecordAttempts(keys.job('job_l1'), 'w', '[]')).toBe(-1);
      expect(await redis.hget(keys.job('job_l1'), 'attempt_log')).toBe('[{"attempt":1}]');
    });
  });

  describe('finish.lua', () => {
    it('-2 for a missing job', async () => {
      expect(await finish('job_missing')).toBe(-2);
      expect(await redis.exists(keys.job('job_missing'))).toBe(0);
    });

    it('-1 when another owner holds it, -3 when the log moved past the expected count', async () => {
      await running('job_f1', 'w');
      expect(await finish('job_f1', { owner: 'other' })).toBe(-1);
      expect(await finish('job_f1', { owner: 'w', expected: 1 })).toBe(-3);
      expect(await redis.hmget(keys.job('job_f1'), 'status', 'owner')).toEqual(['running', 'w']);
      expect(await finish('job_f1', { owner: 'w', expected: 2 })).toBe(3);
    });

    it('ends the record once: done event, done_event_id, ttls; a second ending is told how the job ended', async () => {
      await running('job_f2', 'w');
      const held = await quota();
      expect(await finish('job_f2', { owner: 'w', eventsTtl: 3600, jobTtl: 7200, prompt: 5, completion: 6 })).toBe(3);
      const fields = await redis.hgetall(keys.job('job_f2'));
      expect(fields).toMatchObject({ status: 'failed', finished_at: '200', done_event_id: '3', ended_tokens: '5 6' });
      expect(fields.owner).toBeUndefined();
      expect((await log.readAfter('job_f2', 2))[0]).toMatchObject({ id: 3, event: 'done' });
      expect(await redis.ttl(keys.events('job_f2'))).toBeGreaterThan(3500);
      expect(await redis.ttl(keys.job('job_f2'))).toBeGreaterThan(7100);
      // The control slot is not its to touch: ENDED does that.
      expect(await quota()).toEqual(held);

      expect(await redis.spoolFinish(...eventScriptArgs('job_f2'), '', '', encodeEvent('done', {} as never), 60, 60, 'status', 'cancelled')).toEqual([-1, 'failed', tenant, '5 6']);
      expect(await redis.hget(keys.job('job_f2'), 'status')).toBe('failed');
    });
  });

  describe('ended.lua', () => {
    it('applies an end once: outbox entry, index expiry, quota given back, scheduler and estimate left; a second run changes nothing', async () => {
      await redis.unlink(keys.outbox());
      await running('job_e1', 'w');
      await redis.zadd(keys.tenantRunning(tenant), 1, 'job_e1');
      await redis.zadd(keys.schedulerReleased(), 1, 'job_e1');
      await redis.zadd(keys.schedulerDeferred(), Date.now() + 60_000, 'job_e1');
      await redis.zadd(keys.tenantDeferred(tenant), Date.now() + 60_000, 'job_e1');
      const held = await counters();
      await finish('job_e1', { owner: 'w' });
      expect(await ended('job_e1', { recordTtl: 7200 })).toBe(1);
      expect(await redis.lrange(keys.outbox(), 0, -1)).toEqual(['job_e1']);
      expect(Number(await redis.zscore(keys.tenantJobsExpiry(tenant), 'job_e1'))).toBeGreaterThan(Date.now() + 7_100_000);
      const afterOne = await quota();
      expect(afterOne).toEqual({ ...afterOne, jobs: String(Number(held.jobs) - 1), bytes: String(Number(held.bytes) - 10) });
      expect(afterOne.job_e1).toBeUndefined();
      expect(await redis.zscore(keys.tenantRunning(tenant), 'job_e1')).toBeNull();
      expect(await redis.zscore(keys.schedulerReleased(), 'job_e1')).toBeNull();
      expect(await redis.zscore(keys.schedulerDeferred(), 'job_e1')).toBeNull();
      expect(await redis.zscore(keys.tenantDeferred(tenant), 'job_e1')).toBeNull();
      expect(await redis.hget(keys.tenantEstimates(tenant), 'job_e1')).toBeNull();

      expect(await ended('job_e1')).toBe(0);
      expect(await quota()).toEqual(afterOne);
      expect(await redis.llen(keys.outbox())).toBe(1);
    });

    it("the tenant's last job drops its quota; a job never admitted changes nothing", async () => {
      await create('job_e2', { bytes: 5, name: 't-last' });
      expect(await ended('job_e2', { status: 'cancelled', name: 't-last' })).toBe(1);
      expect(await redis.exists(keys.tenantQuota('t-last'))).toBe(0);
      const outbox = await redis.llen(keys.outbox());
      expect(await ended('job_never', { name: 't-last' })).toBe(0);
      expect(await redis.llen(keys.outbox())).toBe(outbox);
    });

    it('counts each ended job once for the fleet: by final status, and its tokens by tenant and kind', async () => {
      const counts = async () => [await redis.hgetall(keys.fleetJobs()), await redis.hgetall(keys.fleetTokens())];
      const [jobsBefore, tokensBefore] = await counts();
      const plus = (before: Record<string, string>, field: string, n: number) => String(Number(before[field] ?? 0) + n);
      await create('job_fleet1');
      await create('job_fleet2');
      expect(await ended('job_fleet1', { status: 'succeeded', prompt: 11, completion: 7 })).toBe(1);
      expect(await ended('job_fleet2', { status: 'failed', completion: 3 })).toBe(1);
      // Repeated runs count nothing.
      expect(await ended('job_fleet1', { status: 'succeeded', prompt: 100, completion: 100 })).toBe(0);
      const [jobs, tokens] = await counts();
      expect(jobs.succeeded).toBe(plus(jobsBefore, 'succeeded', 1));
      expect(jobs.failed).toBe(plus(jobsBefore, 'failed', 1));
      expect(tokens[`prompt:${tenant}`]).toBe(plus(tokensBefore, `prompt:${tenant}`, 11));
      expect(tokens[`completion:${tenant}`]).toBe(plus(tokensBefore, `completion:${tenant}`, 10));
    });
  });

  it('snapshot.lua: the whole log and the record in one reply', async () => {
    await running('job_snap', 'w');
    const [entries, ...pairs] = await redis.spoolSnapshot(keys.job('job_snap'), keys.events('job_snap'));
    expect(entries).toEqual([queuedEntry, 'status\n{"status":"running","attempt":1}']);
    expect(pairs).toEqual(expect.arrayContaining(['status', 'running', 'owner', 'w']));
    expect(await redis.spoolSnapshot(keys.job('job_gone'), keys.events('job_gone'))).toEqual([[]]);
  });

  it('trim-index.lua: drops from the index and the expiry set the jobs whose records expired, and says how many', async () => {
    const index = keys.tenantJobs('t-trim');
    const expiry = keys.tenantJobsExpiry('t-trim');
    await redis.zadd(index, 1, 'gone_1', 2, 'gone_2', 3, 'kept');
    await redis.zadd(expiry, Date.now() - 1000, 'gone_1', Date.now() - 10, 'gone_2', Date.now() + 60_000, 'kept');
    expect(await redis.spoolTrimIndex(index, expiry)).toBe(2);
    expect(await redis.zrange(index, '0', '-1')).toEqual(['kept']);
    expect(await redis.zrange(expiry, '0', '-1')).toEqual(['kept']);
    expect(await redis.spoolTrimIndex(index, expiry)).toBe(0);
  });

  describe('remove.lua', () => {
    const remove = (id: string) => redis.spoolRemove(keys.tenantQuota(tenant), keys.tenantJobs(tenant), ...schedulerKeys(tenant), keys.tenantEstimates(tenant), id);

    it('takes back the admission of a job that never ran: index entry, line, estimate and quota', async () => {
      const held = await quota();
      await create('job_rm1', { bytes: 9 });
      await redis.zadd(keys.tenantWaiting(tenant), 1, 'job_rm1');
      expect(await remove('job_rm1')).toBe(1);
      expect(await redis.zscore(keys.tenantJobs(tenant), 'job_rm1')).toBeNull();
      expect(await redis.zscore(keys.tenantWaiting(tenant), 'job_rm1')).toBeNull();
      expect(await redis.hget(keys.tenantEstimates(tenant), 'job_rm1')).toBeNull();
      expect(await quota()).toEqual(held);
    });

    it('gives nothing back for a job whose end was applied (ENDED did)', async () => {
      await create('job_rm2');
      await finish('job_rm2');
      await ended('job_rm2');
      const held = await quota();
      expect(await remove('job_rm2')).toBe(1);
      expect(await quota()).toEqual(held);
    });
  });

  describe('outbox-claim.lua and outbox-ack.lua', () => {
    const outbox = keys.outbox();
    const processing = keys.outboxProcessing();
    const claims = keys.outboxClaims();

    it('claims up to the count, oldest first, stamping each claim; ack drops a claim once', async () => {
      await redis.unlink(outbox, processing, claims);
      await redis.lpush(outbox, 'job_1', 'job_2', 'job_3');
      expect(await redis.spoolOutboxClaim(outbox, processing, claims, 2, 1234)).toEqual(['job_1', 'job_2']);
      expect(await redis.lrange(outbox, 0, -1)).toEqual(['job_3']);
      expect(await redis.hgetall(claims)).toEqual({ job_1: '1234', job_2: '1234' });
      expect(await redis.spoolOutboxClaim(outbox, processing, claims, 5, 99)).toEqual(['job_3']);
      expect(await redis.spoolOutboxClaim(outbox, processing, claims, 5, 99)).toEqual([]);

      expect(await redis.spoolOutboxAck(processing, claims, 'job_2')).toBe(1);
      expect(await redis.spoolOutboxAck(processing, claims, 'job_2')).toBe(0);
      expect(await redis.lrange(processing, 0, -1)).toEqual(['job_3', 'job_1']);
      expect(Object.keys(await redis.hgetall(claims)).sort()).toEqual(['job_1', 'job_3']);
    });
  });

  describe('batch-record-ended.lua and batch-request-cancel.lua', () => {
    const batchKeys = (id: string) => [keys.batch(id), keys.batchEnded(id), keys.batchResults(id), keys.batchJobs(id)];
    const recordEnded = (batch: string, job: string, failed: boolean, cost = 0) =>
      redis.spoolBatchRecordEnded(...batchKeys(batch), job, `{"custom_id":"${job}"}`, failed ? '1' : '0', 500, 60, cost);
    const fieldsOf = (flat: string[]) => Object.fromEntries(flat.flatMap((value, index) => (index % 2 ? [] : [[value, flat[index + 1]]])));

    it('an empty reply for no batch', async () => {
      expect(await recordEnded('batch_none', 'job_1', false)).toEqual([]);
      expect(await redis.exists(keys.batchEnded('batch_none'))).toBe(0);
    });

    it('counts each request once however often replayed, and completes the batch with its last one', async () => {
      await redis.hset(keys.batch('batch_1'), { status: 'in_progress', total: 2, completed: 0, failed: 0 });
      await redis.rpush(keys.batchJobs('batch_1'), 'job_1', 'job_2');
      expect(fieldsOf(await recordEnded('batch_1', 'job_1', true))).toMatchObject({ status: 'in_progress', completed: '0', failed: '1' });
      expect(fieldsOf(await recordEnded('batch_1', 'job_1', false))).toMatchObject({ completed: '0', failed: '1' });
      expect(fieldsOf(await recordEnded('batch_1', 'job_2', false))).toMatchObject({ status: 'completed', completed: '1', failed: '1', completed_at: '500' });
      expect(await redis.lrange(keys.batchResults('batch_1'), 0, -1)).toEqual(['{"custom_id":"job_1"}', '{"custom_id":"job_2"}']);
      for (const key of batchKeys('batch_1')) expect(await redis.ttl(key)).toBeGreaterThan(0);
    });

    it("adds each request's cost once, however often replayed", async () => {
      await redis.hset(keys.batch('batch_3'), { status: 'in_progress', total: 3, completed: 0, failed: 0 });
      await recordEnded('batch_3', 'job_1', false, 0.25);
      await recordEnded('batch_3', 'job_1', false, 0.25);
      await recordEnded('batch_3', 'job_2', true, 0);
      expect(Number(fieldsOf(await recordEnded('batch_3', 'job_3', false, 0.125)).cost_usd)).toBe(0.375);
    });

    it("cancelling: an in-progress batch moves to cancelling and ends cancelled; an ended one keeps its status; '' when missing", async () => {
      await redis.hset(keys.batch('batch_2'), { status: 'in_progress', total: 1 });
      expect(await redis.spoolBatchRequestCancel(keys.batch('batch_2'))).toBe('cancelling');
      expect(await redis.spoolBatchRequestCancel(keys.batch('batch_2'))).toBe('cancelling');
      expect(fieldsOf(await recordEnded('batch_2', 'job_1', true))).toMatchObject({ status: 'cancelled', failed: '1' });
      expect(await redis.spoolBatchRequestCancel(keys.batch('batch_2'))).toBe('cancelled');
      expect(await redis.spoolBatchRequestCancel(keys.batch('batch_none'))).toBe('');
    });
  });
});
