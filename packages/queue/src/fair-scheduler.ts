import { Job, type Queue } from 'bullmq';
import type { RedisClient } from './redis.js';
import type { Keys } from './keys.js';
import { CHAT_JOB_NAME, chatJobOptions, type ChatJobData } from './queues.js';
import { defineCommands } from './script-loader.js';

const script = (name: string) => new URL(`./commands/${name}.lua`, import.meta.url);

const SCHEDULER_COMMANDS = {
  spoolSchedulerEnqueue: { numberOfKeys: 7, script: script('scheduler-enqueue') },
  spoolSchedulerDispatch: { numberOfKeys: 7, script: script('scheduler-dispatch') },
  spoolSchedulerDefer: { numberOfKeys: 4, script: script('scheduler-defer') },
  spoolSchedulerHeartbeat: { numberOfKeys: 2, script: script('scheduler-heartbeat') },
  spoolSchedulerWaitingOn: { numberOfKeys: 3, script: script('scheduler-waiting-on') },
  spoolSchedulerChargeTokens: { numberOfKeys: 2, script: script('scheduler-charge-tokens') },
  spoolSchedulerChargeCall: { numberOfKeys: 2, script: script('scheduler-charge-call') },
};

interface SchedulerCommands {
  spoolSchedulerEnqueue(...args: (string | number)[]): Promise<(string | number)[]>;
  spoolSchedulerDispatch(...args: (string | number)[]): Promise<(string | number)[]>;
  spoolSchedulerHeartbeat(...args: (string | number)[]): Promise<number>;
  spoolSchedulerDefer(released: string, pending: string, deferred: string, tenantDeferred: string, jobId: string, delayMs: number): Promise<number>;
  spoolSchedulerWaitingOn(...args: string[]): Promise<WaitingOn>;
  spoolSchedulerChargeTokens(schedule: string, estimates: string, jobId: string, tokens: number): Promise<number>;
  spoolSchedulerChargeCall(schedule: string, estimates: string, jobId: string, tokens: number): Promise<number>;
}

/** What holds a queued job (API.md §12 `waiting_on`); `budget` is decided by the budget, not here. */
export type WaitingOn = 'capacity' | 'tenant_concurrency' | 'tenant_rpm' | 'tenant_tpm' | 'upstream_rate_limit' | 'budget';

/** Jobs one scheduler call releases at most (a batch's first wave is released in steps of this). */
const RELEASE_STEP = 500;

/** A tenant's share and limits, as the scheduler applies them. */
export interface TenantPolicy {
  weight: number;
  maxConcurrency?: number;
  rpm?: number;
  tpm?: number;
}

/** A recorded job to put in its tenant's line. */
export interface ScheduledJob {
  id: string;
  priority: number;
  /** a copy of a small request for its queue entry (see ChatJobData.request) */
  data?: ChatJobData;
}

export interface FairSchedulerOptions {
  /** SPOOL_MAX_ATTEMPTS: the queue entries' attempts */
  maxAttempts: number;
  /**
   * Released jobs allowed to wait at the upstream gate at once, fleet-wide: what a tenant arriving
   * late waits behind when the upstream's rate is the bottleneck (`pendingLimitFor`).
   */
  pendingLimit?: number;
  /**
   * Applies the control slot's half of a job's end (JobRepository.settleEnded) to a released job
   * found ended: the process that ended it died before that half ran. Without it such a job only
   * leaves the scheduler's sets.
   */
  settleEnded?: (id: string) => Promise<void>;
}

/**
 * With an upstream RPM/TPM, released jobs may wait at its gate, and a tenant arriving late waits
 * behind them: 16 keep the gate busy while a release reaches it, even on a loaded machine.
 * Without one, nothing waits there: the free worker slots alone bound what is released.
 */
export function pendingLimitFor(upstreams: { rpm?: number; tpm?: number }[]): number {
  return upstreams.some((upstream) => upstream.rpm || upstream.tpm) ? 16 : 1_000_000;
}

/** What a release step did: jobs now on the queue, and when a tenant held by its rate limits is next ready. */
export interface Released {
  ids: string[];
  /** the step released all it may at once: there may be room for more */
  more: boolean;
  /** ms until a rate-limited tenant may release again; undefined when none is waiting on its rate */
  retryInMs?: number;
}

/**
 * Shares the workers between tenants by weight (stride scheduling, in Redis, one script a step):
 * jobs wait in per-tenant lines and go on the BullMQ queue only when the fleet has a free slot, so
 * the queue holds what is about to run and the order in which tenants get it is decided here.
 * BullMQ keeps doing the rest (locks, retries, takeover of a dead worker's job).
 */
export class FairScheduler {
  private readonly redis: RedisClient & SchedulerCommands;
  private readonly pendingLimit: number;
  /** the chat queue's key prefix and its entries' options as BullMQ stores them: the release scripts put jobs on it */
  private readonly queueArgs: [string, string];

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    private readonly queue: Queue<ChatJobData>,
    private readonly options: FairSchedulerOptions,
  ) {
    defineCommands(redis, SCHEDULER_COMMANDS);
    this.redis = redis as RedisClient & SchedulerCommands;
    this.pendingLimit = options.pendingLimit ?? 16;
    this.queueArgs = [`${queue.qualifiedName}:`, storedEntryOptions(queue, options.maxAttempts)];
  }

  private fixedKeys(): string[] {
    const { keys } = this;
    return [keys.schedulerTenants(), keys.scheduler(), keys.schedulerReleased(), keys.schedulerPending(), keys.schedulerWorkers(), keys.workerSlots(), keys.schedulerDeferred()];
  }

  /** Writes each tenant's weight and limits where the scheduler reads them; unset limits are removed. */
  async applyPolicies(policies: Map<string, TenantPolicy>): Promise<void> {
    if (policies.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [tenant, policy] of policies) {
      const key = this.keys.tenantSchedule(tenant);
      const set: Record<string, number> = { weight: policy.weight };
      const unset: string[] = [];
      const put = (field: string, value: number | undefined) => (value === undefined ? unset.push(field) : (set[field] = value));
      put('max_concurrency', policy.maxConcurrency);
      put('rpm_gap', policy.rpm ? 60_000 / policy.rpm : undefined);
      put('tpm_gap', policy.tpm ? 60_000 / policy.tpm : undefined);
      pipeline.hset(key, set);
      if (unset.length) pipeline.hdel(key, ...unset);
    }
    await pipeline.exec();
  }

  /**
   * Puts recorded jobs of one tenant in its line and releases what the fleet has room for, onto
   * the queue in the same script: a job's release and its queue entry are one step.
   */
  async enqueue(tenant: string, jobs: ScheduledJob[]): Promise<Released> {
    const triples = jobs.flatMap((job) => [job.priority, job.id, job.data ? JSON.stringify(job.data) : '']);
    const reply = await this.redis.spoolSchedulerEnqueue(...this.fixedKeys(), this.keys.control, RELEASE_STEP, this.pendingLimit, ...this.queueArgs, tenant, ...triples);
    return this.released(reply);
  }

  /**
   * Releases what the fleet has room for (a job ended, a slot freed, a tenant's rate refilled);
   * `passedGate`: a released job that just got past the upstream gate, no longer counted as pending.
   */
  async dispatch(passedGate = ''): Promise<Released> {
    const reply = await this.redis.spoolSchedulerDispatch(...this.fixedKeys(), this.keys.control, RELEASE_STEP, this.pendingLimit, ...this.queueArgs, passedGate);
    return this.released(reply);
  }

  /**
   * A released job of `tenant` was handed back, or backs off, for `delayMs`, counted from now on
   * Redis's clock (the one the release step reads, whatever this host's says): it holds no worker
   * slot until then, so jobs that can run take it. It
   * still counts against its tenant's max_concurrency, and a tenant with as many such jobs as the
   * fleet has slots is held. It no longer counts as pending at the upstream gate either. Resolves
   * true when marked (false: the job is not released).
   */
  async defer(tenant: string, jobId: string, delayMs: number): Promise<boolean> {
    const { keys } = this;
    return (await this.redis.spoolSchedulerDefer(keys.schedulerReleased(), keys.schedulerPending(), keys.schedulerDeferred(), keys.tenantDeferred(tenant), jobId, Math.max(0, Math.round(delayMs)))) === 1;
  }

  /**
   * Charges a released job's upstream call, about to go, to its tenant's rpm and tpm (`tokens`:
   * its estimate), unless it is the job's first (its release paid for that): retries count as
   * calls too. Resolves true when it charged.
   */
  async chargeCall(tenant: string, jobId: string, tokens: number): Promise<boolean> {
    return (await this.redis.spoolSchedulerChargeCall(this.keys.tenantSchedule(tenant), this.keys.tenantEstimates(tenant), jobId, Math.max(0, Math.round(tokens)))) === 1;
  }

  /**
   * Corrects what an ended job of `tenant` was charged on the tenant's TPM (estimates, at release
   * and for each later call) to `usedTokens`, what its calls really used upstream; once per job,
   * and nothing for a job never released. Resolves true when it corrected a charge.
   */
  async settleTokens(tenant: string, jobId: string, usedTokens: number): Promise<boolean> {
    return (await this.redis.spoolSchedulerChargeTokens(this.keys.tenantSchedule(tenant), this.keys.tenantEstimates(tenant), jobId, usedTokens)) === 1;
  }

  /** Jobs waiting in every tenant's line. */
  async waitingCount(): Promise<number> {
    const tenants = await this.redis.zrange(this.keys.schedulerTenants(), '0', '-1');
    if (!tenants.length) return 0;
    const pipeline = this.redis.pipeline();
    for (const tenant of tenants) pipeline.zcard(this.keys.tenantWaiting(tenant));
    return ((await pipeline.exec()) ?? []).reduce((sum, [, count]) => sum + Number(count ?? 0), 0);
  }

  /** What holds a queued job of `tenant` now; `upstreams`: the names of those serving its model. */
  async waitingOn(tenant: string, jobId: string, upstreams: string[] = ['default']): Promise<WaitingOn> {
    const { keys } = this;
    const gates = upstreams.map((name) => keys.upstreamGate(name));
    return this.redis.spoolSchedulerWaitingOn(keys.tenantWaiting(tenant), keys.tenantRunning(tenant), keys.tenantSchedule(tenant), jobId, ...gates);
  }

  /** Counts a worker's slots in the fleet's capacity for `ttlMs` (0 slots: it leaves). */
  async heartbeat(workerId: string, slots: number, ttlMs: number): Promise<void> {
    await this.redis.spoolSchedulerHeartbeat(this.keys.schedulerWorkers(), this.keys.workerSlots(), workerId, slots, ttlMs);
  }

  /**
   * Puts back on the queue released jobs that never reached it (their releaser died between the
   * release and the add) and forgets released jobs that ended without saying so. Looks at released
   * jobs older than `minAgeMs`, oldest first; one that is fine is marked as seen now, so the next
   * round looks further.
   */
  async reconcile(minAgeMs = 60_000, most = 200): Promise<number> {
    const { keys } = this;
    const [seconds, micros] = await this.redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const ids = await this.redis.zrangebyscore(keys.schedulerReleased(), '-inf', now - minAgeMs, 'LIMIT', 0, most);
    if (!ids.length) return 0;
    // One command each: on a cluster the queue entries and the records are in different slots.
    const states = await Promise.all(
      ids.map(async (id) => {
        const [onQueue, [status, tenant]] = await Promise.all([this.redis.exists(`${keys.control}:${this.queue.name}:${id}`), this.redis.hmget(keys.job(id), 'status', 'tenant')]);
        return { id, onQueue: onQueue === 1, status, tenant };
      }),
    );
    const lost: string[] = [];
    const ended: string[] = [];
    const fix = this.redis.pipeline();
    for (const { id, onQueue, status, tenant } of states) {
      if (status === 'queued' || status === 'running') {
        if (!onQueue) lost.push(id);
        fix.zadd(keys.schedulerReleased(), 'XX', now, id);
      } else {
        if (status) ended.push(id);
        fix.zrem(keys.schedulerReleased(), id).zrem(keys.schedulerPending(), id).zrem(keys.schedulerDeferred(), id);
        if (tenant) fix.zrem(keys.tenantRunning(tenant), id).zrem(keys.tenantDeferred(tenant), id);
      }
    }
    const { settleEnded } = this.options;
    if (settleEnded) for (const id of ended) await settleEnded(id);
    await fix.exec();
    await this.putOnQueue(lost);
    return lost.length;
  }

  /** A release step's reply (wait hint, then id, tenant pairs); its jobs are on the queue already. */
  private released(reply: (string | number)[]): Released {
    const [hint, ...pairs] = reply;
    const ids: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) ids.push(String(pairs[i]));
    return { ids, more: ids.length >= RELEASE_STEP, retryInMs: Number(hint) >= 0 ? Number(hint) : undefined };
  }

  /** Puts back on the queue released jobs whose entry is missing (FIFO: the order of release is the order to run). */
  private async putOnQueue(ids: string[]): Promise<void> {
    if (ids.length) await this.queue.addBulk(ids.map((id) => ({ name: CHAT_JOB_NAME, data: { jobId: id }, opts: chatJobOptions(id, { attempts: this.options.maxAttempts }) })));
  }
}

/**
 * The options BullMQ stores with a chat entry, less its id (the release script adds it), as its
 * own `add` stores them: BullMQ's Job fills in its defaults. None of ours has a short stored name
 * (BullMQ's `optsEncodeMap`: deduplication, keepLogs, parent options).
 */
function storedEntryOptions(queue: Queue<ChatJobData>, maxAttempts: number): string {
  const { jobId: _id, ...stored } = new Job(queue, CHAT_JOB_NAME, {}, chatJobOptions('', { attempts: maxAttempts })).opts;
  return JSON.stringify(stored);
}
