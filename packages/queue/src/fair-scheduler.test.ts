import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createKeys } from './keys.js';
import { chatJobOptions, createChatQueue } from './queues.js';
import { FairScheduler } from './fair-scheduler.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('FairScheduler', () => {
  const redis = new Redis(REDIS_URL);
  let keys: ReturnType<typeof createKeys>;
  let scheduler: FairScheduler;
  let queue: ReturnType<typeof createChatQueue>;
  let seq = 0;

  beforeEach(async () => {
    keys = createKeys(`test-sched-${randomUUID()}`);
    queue = createChatQueue(redis, keys.prefix);
    scheduler = new FairScheduler(redis, keys, queue, { maxAttempts: 3, pendingLimit: 1000 });
  });
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
  });

  /** Records `count` jobs of `tenant` (only what the scheduler reads: the index's order and the estimate, as ADMIT writes them). */
  async function submit(tenant: string, count: number, priority = 5, estTokens = 100) {
    const ids = Array.from({ length: count }, () => `job_${tenant}_${++seq}`);
    const pipeline = redis.pipeline();
    for (const id of ids) {
      pipeline.zadd(keys.tenantJobs(tenant), ++seq, id).hset(keys.tenantEstimates(tenant), id, estTokens);
      pipeline.hset(keys.job(id), { tenant, status: 'queued' });
    }
    await pipeline.exec();
    const released = await scheduler.enqueue(tenant, ids.map((id) => ({ id, priority })));
    return Object.assign(ids, { released });
  }

  /** Ends a released job the way FINISH does for the scheduler: its slot is free. */
  async function end(tenant: string, id: string): Promise<void> {
    await redis.multi().zrem(keys.tenantRunning(tenant), id).zrem(keys.schedulerReleased(), id).zrem(keys.schedulerPending(), id).hset(keys.job(id), 'status', 'succeeded').exec();
  }

  /** Runs a one-slot fleet for `n` jobs: the running job ends, the next is released; the tenants in the order their jobs ran. */
  async function serve(n: number): Promise<string[]> {
    const order: string[] = [];
    for (let i = 0; i < n; i++) {
      const [running] = await redis.zrange(keys.schedulerReleased(), '0', '0');
      if (!running) break;
      const tenant = (await redis.hget(keys.job(running), 'tenant'))!;
      order.push(tenant);
      await end(tenant, running);
      await scheduler.dispatch();
    }
    return order;
  }

  const share = (order: string[], tenant: string) => order.filter((t) => t === tenant).length / order.length;

  it('releases nothing while no worker is alive, and up to the live workers’ slots', async () => {
    await submit('a', 10);
    expect((await scheduler.dispatch()).ids).toEqual([]);
    await scheduler.heartbeat('w1', 3, 10_000);
    expect((await scheduler.dispatch()).ids).toHaveLength(3);
    expect((await scheduler.dispatch()).ids).toHaveLength(0);
    expect(await queue.getWaitingCount()).toBe(3);
    await scheduler.heartbeat('w2', 2, 10_000);
    expect((await scheduler.dispatch()).ids).toHaveLength(2);
    await scheduler.heartbeat('w2', 0, 0);
    expect(await redis.zcard(keys.schedulerWorkers())).toBe(1);
  });

  it('serves two backlogged tenants of weight 1 half each, however much each has queued', async () => {
    await scheduler.heartbeat('w', 1, 60_000);
    await submit('a', 200);
    await serve(50); // a alone: all of it
    await submit('b', 40);
    const order = await serve(60);
    expect(share(order, 'b')).toBeCloseTo(0.5, 1);
    expect(order.slice(0, 2).sort()).toEqual(['a', 'b']); // b's first job goes at once, not behind a's backlog
  });

  it('serves weights 3:1 three quarters and a quarter', async () => {
    await scheduler.applyPolicies(new Map([['heavy', { weight: 3 }]]));
    await scheduler.heartbeat('w', 1, 60_000);
    await submit('light', 100);
    await submit('heavy', 100);
    const order = await serve(80);
    expect(share(order, 'heavy')).toBeCloseTo(0.75, 1);
  });

  it('orders a tenant’s jobs by priority, then submission', async () => {
    const [late] = await submit('a', 1, 9);
    const [first, second] = await submit('a', 2, 5);
    const [urgent] = await submit('a', 1, 1);
    await scheduler.heartbeat('w', 10, 60_000);
    expect((await scheduler.dispatch()).ids).toEqual([urgent, first, second, late]);
  });

  it('holds a tenant at its max_concurrency without holding back another', async () => {
    await scheduler.applyPolicies(new Map([['capped', { weight: 1, maxConcurrency: 2 }]]));
    await scheduler.heartbeat('w', 10, 60_000);
    await submit('capped', 20);
    await submit('free', 20);
    await scheduler.dispatch();
    expect(await redis.zcard(keys.tenantRunning('capped'))).toBe(2);
    expect(await redis.zcard(keys.tenantRunning('free'))).toBe(8);
    expect(await scheduler.waitingOn('capped', (await redis.zrange(keys.tenantWaiting('capped'), '0', '0'))[0])).toBe('tenant_concurrency');
    expect(await scheduler.waitingOn('free', (await redis.zrange(keys.tenantWaiting('free'), '0', '0'))[0])).toBe('capacity');
  });

  it('passes over any number of tenants held by their own limits: a tenant with room is served however many come before it', async () => {
    const capped = Array.from({ length: 100 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    await scheduler.applyPolicies(new Map(capped.map((tenant) => [tenant, { weight: 1, maxConcurrency: 1 }])));
    await scheduler.heartbeat('w', 1000, 60_000);
    await submit('z', 1); // z has run a job: its pass is now that of the capped tenants after theirs
    for (const tenant of capped) expect((await submit(tenant, 2)).released.ids).toHaveLength(1);
    // 100 tenants at their max_concurrency, with jobs waiting and passes no higher than z's
    expect((await submit('z', 5)).released.ids).toHaveLength(5);
    expect(await scheduler.waitingOn('c099', (await redis.zrange(keys.tenantWaiting('c099'), '0', '0'))[0])).toBe('tenant_concurrency');
  });

  it('spaces a tenant’s releases to its rpm, says when it is ready next, and names tenant_rpm', async () => {
    await scheduler.applyPolicies(new Map([['slow', { weight: 1, rpm: 60 }]]));
    await scheduler.heartbeat('w', 10, 60_000);
    const { released: first } = await submit('slow', 5);
    expect(first.ids).toHaveLength(1);
    expect(first.retryInMs).toBeGreaterThan(900);
    expect(first.retryInMs).toBeLessThanOrEqual(1000);
    expect(await scheduler.waitingOn('slow', (await redis.zrange(keys.tenantWaiting('slow'), '0', '0'))[0])).toBe('tenant_rpm');
    expect((await submit('other', 3)).released.ids).toHaveLength(3); // the rate-held tenant holds no one back
  });

  it('holds a tenant’s rpm across every scheduler of the fleet, each on its own connection', async () => {
    const other = new Redis(REDIS_URL);
    try {
      const second = new FairScheduler(other, keys, queue, { maxAttempts: 3, pendingLimit: 1000 });
      await scheduler.applyPolicies(new Map([['slow', { weight: 1, rpm: 60 }]]));
      await scheduler.heartbeat('w', 10, 60_000);
      expect((await submit('slow', 2)).released.ids).toHaveLength(1);
      // another API process or worker releasing now finds the tenant's minute spent: one a second
      const released = await second.dispatch();
      expect(released.ids).toEqual([]);
      expect(released.retryInMs).toBeGreaterThan(900);
    } finally {
      other.disconnect();
    }
  });

  it('names upstream_rate_limit while every upstream serving the job’s model is paused or at its rate, else capacity', async () => {
    const [id] = await submit('a', 1); // no worker: it stays in line
    const future = Date.now() + 60_000;
    await redis.hset(keys.upstreamGate('east'), 'paused_until', future);
    await redis.hset(keys.upstreamGate('west'), 'next_request', future);
    expect(await scheduler.waitingOn('a', id, ['east', 'west'])).toBe('upstream_rate_limit');
    expect(await scheduler.waitingOn('a', id, ['east', 'north'])).toBe('capacity'); // north has room
    await redis.hset(keys.upstreamGate('west'), 'next_request', Date.now() - 1);
    expect(await scheduler.waitingOn('a', id, ['east', 'west'])).toBe('capacity');
  });

  it('charges a tenant’s tpm with each job’s estimate', async () => {
    await scheduler.applyPolicies(new Map([['t', { weight: 1, tpm: 6000 }]]));
    await scheduler.heartbeat('w', 10, 60_000);
    const { released: step } = await submit('t', 3, 5, 1000); // 1000 tokens at 100 a second: 10 s
    expect(step.ids).toHaveLength(1);
    expect(step.retryInMs).toBeGreaterThan(9000);
    expect(await scheduler.waitingOn('t', (await redis.zrange(keys.tenantWaiting('t'), '0', '0'))[0])).toBe('tenant_tpm');

    // the job used 100 tokens, not 1000: the 900 given back make the tenant ready in about 1 s
    expect(await scheduler.settleTokens('t', step.ids[0], 100)).toBe(true);
    const readyIn = Number(await redis.hget(keys.tenantSchedule('t'), 'next_token')) - Date.now();
    expect(readyIn).toBeGreaterThan(500);
    expect(readyIn).toBeLessThan(1100);
    // once per job; and a job never released (still in line) was charged nothing, so it gives nothing back
    expect(await scheduler.settleTokens('t', step.ids[0], 0)).toBe(false);
    const [inLine] = await redis.zrange(keys.tenantWaiting('t'), '0', '0');
    expect(await scheduler.settleTokens('t', inLine, 0)).toBe(false);
    expect(Number(await redis.hget(keys.tenantSchedule('t'), 'next_token')) - Date.now()).toBeGreaterThan(500);
  });

  it('charges a released job’s calls after its first to its tenant’s rpm and tpm, and settles them all at its end', async () => {
    await scheduler.applyPolicies(new Map([['t', { weight: 1, rpm: 60, tpm: 60_000 }]]));
    await scheduler.heartbeat('w', 10, 60_000);
    const { released } = await submit('t', 1, 5, 1000); // released: 1 s of rpm, 1 s of tpm
    const [id] = released.ids;
    const schedule = async () => (await redis.hmget(keys.tenantSchedule('t'), 'next_request', 'next_token')).map((at) => Number(at) - Date.now());
    expect(await scheduler.chargeCall('t', id, 1000)).toBe(false); // the call its release paid for
    const [request, token] = await schedule();
    expect(await scheduler.chargeCall('t', id, 3000)).toBe(true); // a retry: 1 s more of rpm, 3 s more of tpm
    const [requestAfter, tokenAfter] = await schedule();
    expect(requestAfter - request).toBeGreaterThan(900);
    expect(tokenAfter - token).toBeGreaterThan(2900);
    // the two calls used 500 tokens in all, not the 4,000 charged: 3.5 s given back, and the notes go
    expect(await scheduler.settleTokens('t', id, 500)).toBe(true);
    expect((await schedule())[1]).toBeLessThan(tokenAfter - 3400);
    expect(await redis.hkeys(keys.tenantEstimates('t'))).toEqual([]);
  });

  it('puts released jobs on the queue in the release step, in order, each as BullMQ’s own add stores it', async () => {
    await scheduler.heartbeat('w', 10, 60_000);
    await queue.add('chat', { jobId: 'reference' }, chatJobOptions('reference', { attempts: 3 }));
    await redis.zadd(keys.tenantJobs('a'), 1, 'job_carried', 2, 'job_plain').then(() => redis.hset(keys.tenantEstimates('a'), 'job_carried', '1', 'job_plain', '1'));
    const carried = { jobId: 'job_carried', tenant: 'a', request: { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] } };
    const released = await scheduler.enqueue('a', [
      { id: 'job_carried', priority: 5, data: carried },
      { id: 'job_plain', priority: 5 },
    ]);
    expect(released.ids).toEqual(['job_carried', 'job_plain']);

    const reference = await redis.hgetall(`${queue.qualifiedName}:reference`);
    for (const id of released.ids) {
      const entry = await redis.hgetall(`${queue.qualifiedName}:${id}`);
      expect(Object.keys(entry).sort()).toEqual(Object.keys(reference).sort());
      expect(JSON.parse(entry.opts)).toEqual({ ...JSON.parse(reference.opts), jobId: id });
      expect([entry.name, entry.delay, entry.priority]).toEqual([reference.name, reference.delay, reference.priority]);
      expect(Math.abs(Number(entry.timestamp) - Number(reference.timestamp))).toBeLessThan(5_000);
    }
    const [first, second] = await Promise.all(released.ids.map((id) => queue.getJob(id)));
    expect(first?.data).toEqual(carried);
    expect(second?.data).toEqual({ jobId: 'job_plain' });
    // FIFO behind the reference: BullMQ pushes on the left and a worker takes from the right
    expect(await redis.lrange(`${queue.qualifiedName}:wait`, 0, -1)).toEqual(['job_plain', 'job_carried', 'reference']);
    expect(await redis.zrange(`${queue.qualifiedName}:marker`, '0', '-1')).toEqual(['0']);
  });

  it('puts back a released job that never reached the queue, and forgets one that ended', async () => {
    await scheduler.heartbeat('w', 10, 60_000);
    const [lost, ended] = await submit('a', 2);
    await queue.obliterate({ force: true }); // the entries lost (a failover that lost writes)
    await redis.hset(keys.job(ended), 'status', 'succeeded');
    await scheduler.defer('a', ended, 60_000);
    expect(await scheduler.reconcile(0)).toBe(1);
    expect(await queue.getJob(lost)).toBeDefined();
    expect(await redis.zrange(keys.schedulerReleased(), '0', '-1')).toEqual([lost]);
    expect(await redis.zcard(keys.tenantRunning('a'))).toBe(1);
    expect(await redis.zcard(keys.schedulerDeferred())).toBe(0);
  });

  it('gives the slot of a released job waiting out a delay to the next job until its wait ends; the job still counts for its tenant’s max_concurrency', async () => {
    await scheduler.applyPolicies(new Map([['capped', { weight: 1, maxConcurrency: 2 }]]));
    await scheduler.heartbeat('w', 2, 60_000);
    const capped = await submit('capped', 4);
    expect(capped.released.ids).toEqual(capped.slice(0, 2));
    const free = await submit('free', 4);
    expect(free.released.ids).toEqual([]); // every slot held

    // One of each waits out a delay: a slot each is free for the next job, but not a slot of capped's max_concurrency.
    expect(await scheduler.defer('capped', capped[0], 60_000)).toBe(true);
    expect(await scheduler.defer('capped', capped[1], 60_000)).toBe(true);
    expect((await scheduler.dispatch()).ids).toEqual(free.slice(0, 2));
    expect(await scheduler.waitingOn('capped', capped[2])).toBe('tenant_concurrency');
    expect(await scheduler.defer('free', free[0], 300)).toBe(true);
    expect((await scheduler.dispatch()).ids).toEqual([free[2]]);
    // free[0]'s wait is over: its slot is its own again, and nothing more is released.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await scheduler.dispatch()).ids).toEqual([]);

    // A job not released (still in line, or ended: ENDED takes it out of every set) is not marked.
    expect(await scheduler.defer('free', free[3], 60_000)).toBe(false);
    await end('free', free[1]);
    expect(await scheduler.defer('free', free[1], 60_000)).toBe(false);
    expect((await redis.zrange(keys.schedulerDeferred(), '0', '-1')).sort()).toEqual([capped[0], capped[1], free[0]].sort());
    expect(await redis.zrange(keys.tenantDeferred('capped'), '0', '-1')).toEqual([capped[0], capped[1]]);
    // Not waiting at the upstream gate either.
    expect((await redis.zrange(keys.schedulerPending(), '0', '-1')).sort()).toEqual([free[2]]);
  });

  it('holds a tenant with as many jobs waiting out delays as the fleet has slots (they come back past the lines), never another', async () => {
    await scheduler.heartbeat('w', 2, 60_000);
    const a = await submit('a', 4);
    expect(a.released.ids).toEqual(a.slice(0, 2));
    await scheduler.defer('a', a[0], 60_000);
    expect((await scheduler.dispatch()).ids).toEqual([a[2]]);
    await scheduler.defer('a', a[1], 60_000);
    // A slot is free, but `a` has two jobs waiting out delays: the next job is b's.
    const b = await submit('b', 2);
    expect(b.released.ids).toEqual([b[0]]);
    await scheduler.defer('b', b[0], 60_000);
    expect((await scheduler.dispatch()).ids).toEqual([b[1]]);
    expect(await redis.zrange(keys.tenantWaiting('a'), '0', '-1')).toEqual([a[3]]);
  });
});
