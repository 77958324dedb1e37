import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '@spool/config';
import { CHAT_QUEUE, FairScheduler, pendingLimitFor, coalesceEveryWrite, createKeys, createRedis, watchConnection, type ChatJobData, type RedisClient } from '@spool/queue';
import { JobOutbox, JobRepository, ResponseCache, type JobEndedHandler } from '@spool/jobs';
import { EventHub, EventLog } from '@spool/stream';
import { createMetrics, type Metrics } from '@spool/metrics';
import { ABORT_CANCELLED, ABORT_SHUTDOWN, createChatProcessor, type PrepareRequest } from './chat-processor.js';
import { retryDelayMs } from './backoff.js';
import { parsePauseAnnouncement } from './upstream-gate.js';
import { UpstreamPool } from './upstream-pool.js';
import type { UpstreamHealthOptions } from './upstream-health.js';
import { FlushClock } from './flush-clock.js';
import { MergedJobs } from './merged-jobs.js';
import { SchedulerLoop } from './scheduler-loop.js';
import type { Budget } from './budget.js';
import { traceChatAttempts } from './tracing-spans.js';
import { PromptWorker } from './prompt-worker.js';

export interface SpoolWorkerOptions {
  config: Config;
  logger: Logger;
  /** command connection; default: a new one from REDIS_URL */
  redis?: RedisClient;
  coalesceMs?: number;
  /** what runs, at least once, after every job ends (store record, session, webhook, batch) */
  onJobEnded?: JobEndedHandler[];
  prepareRequest?: PrepareRequest;
  /** this process's metrics; default: a fresh registry (main.ts serves it on SPOOL_METRICS_PORT) */
  metrics?: Metrics;
  /** tenants' budgets: each upstream call reserved and settled (worker-process.ts makes it); none: spend is not counted */
  budget?: Budget;
  /** failed calls in a row that take an upstream out, and for how long (5 and 30 s); tests shorten them */
  upstreamHealth?: UpstreamHealthOptions;
}

/** A worker process's moving parts: the BullMQ worker, its Redis connections, cancel listening. */
export class SpoolWorker {
  readonly worker: Worker<ChatJobData>;
  readonly metrics: Metrics;
  private readonly redis: RedisClient;
  private readonly subscriber: RedisClient;
  /** the events of jobs that merged jobs follow */
  private readonly followSubscriber: RedisClient;
  private readonly queue: Queue<ChatJobData>;
  private readonly queueConnection: RedisClient;
  /** BullMQ closes the connections it makes, not the ones it is given: these two are closed here */
  private readonly workerConnection: RedisClient;
  private readonly outboxConnection: RedisClient;
  private readonly jobs: JobRepository;
  private readonly outbox: JobOutbox;
  private readonly ownsRedis: boolean;
  /** the upstreams (SPOOL_CONFIG's, or the environment's one), their gates and clients */
  readonly pool: UpstreamPool;
  private readonly scheduling: SchedulerLoop;

  constructor(private readonly options: SpoolWorkerOptions) {
    const { config, logger } = options;
    const keys = createKeys(config.prefix);
    this.ownsRedis = !options.redis;
    this.metrics = options.metrics ?? createMetrics({ service: 'worker' });
    this.redis = options.redis ?? createRedis(config.redisUrl, 'worker', config.prefix);
    // Every job of the process runs its steps on this connection. (Not BullMQ's: it fetches jobs
    // one round trip after another, and a write held to the end of a busy turn slows each.)
    coalesceEveryWrite(this.redis);
    this.subscriber = createRedis(config.redisUrl, 'subscriber', config.prefix);
    watchConnection(this.redis, logger);
    // A connection of its own: ioredis copies every script loaded on a connection (BullMQ's dozens)
    // into each pipeline, and the job repository and outbox pipeline on `this.redis`.
    this.queueConnection = createRedis(config.redisUrl, 'worker', config.prefix);
    this.queue = new Queue<ChatJobData>(CHAT_QUEUE, { connection: this.queueConnection, prefix: keys.control });
    this.jobs = new JobRepository(this.redis, keys, { eventsTtlSeconds: config.eventsTtlSeconds });
    this.pool = new UpstreamPool({
      redis: this.redis,
      keys,
      upstreams: config.upstreams,
      models: config.models,
      logger,
      timeoutMs: config.upstreamTimeoutMs,
      stallTimeoutMs: config.stallTimeoutMs,
      health: options.upstreamHealth,
    });
    const name = `${hostname()}:${process.pid}`;
    this.scheduling = new SchedulerLoop({
      scheduler: new FairScheduler(this.redis, keys, this.queue, { maxAttempts: config.maxAttempts, pendingLimit: pendingLimitFor(config.upstreams), settleEnded: (id) => this.jobs.settleEnded(id) }),
      logger,
      workerId: `${name}:${randomUUID()}`,
      slots: config.workerConcurrency,
      policies: config.tenants,
    });
    const log = new EventLog(this.redis, keys);
    const responseCache = ResponseCache.fromConfig(this.redis, keys, config);
    this.followSubscriber = createRedis(config.redisUrl, 'subscriber', config.prefix);
    const merging = new MergedJobs({
      jobs: this.jobs,
      log,
      hub: new EventHub(this.redis, this.followSubscriber, keys),
      cache: responseCache,
      clock: new FlushClock(options.coalesceMs ?? 80),
    });
    const processor = createChatProcessor({
      jobs: this.jobs,
      log,
      pool: this.pool,
      logger,
      maxAttempts: config.maxAttempts,
      coalesceMs: options.coalesceMs,
      prepareRequest: options.prepareRequest,
      metrics: this.metrics,
      backoffMs: config.backoffMs,
      merging,
      // Only an upstream RPM/TPM bounds the released jobs waiting at its gate (pendingLimitFor): then each one past it lets another go.
      onGatePassed: config.upstreams.some((upstream) => upstream.rpm || upstream.tpm) ? (jobId) => this.scheduling.kick(jobId) : undefined,
      budget: options.budget,
      onDeferred: (tenant, jobId, delayMs) => this.scheduling.deferred(tenant, jobId, delayMs),
      // A retry's call counts against its tenant's rpm/tpm as the first did at release (not waited for: a round trip off the call's path).
      onUpstreamCall: (tenant, jobId, tokens) => {
        const limits = config.tenants.get(tenant);
        if (limits?.rpm || limits?.tpm) void this.scheduling.scheduler.chargeCall(tenant, jobId, tokens).catch((error: unknown) => logger.warn({ err: error, job_id: jobId }, 'a retried call was not charged to its tenant’s rpm/tpm'));
      },
    });
    this.workerConnection = createRedis(config.redisUrl, 'worker', config.prefix);
    const traced = config.otlpEndpoint ? traceChatAttempts(processor, (jobId) => this.jobs.traceOf(jobId)) : processor;
    this.worker = new PromptWorker<ChatJobData>(CHAT_QUEUE, traced, {
      connection: this.workerConnection,
      prefix: keys.control,
      concurrency: config.workerConcurrency,
      name,
      lockDuration: config.lockMs,
      stalledInterval: Math.max(1000, Math.floor(config.lockMs / 2)),
      // A takeover after a dead worker is an attempt of ours, counted by the processor.
      maxStalledCount: config.maxAttempts,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) => retryDelayMs(attemptsMade, config.backoffMs, error),
      },
    });
    this.worker.on('failed', (job, error) => void this.onFailed(job, error));
    // A slot of this worker is free: the next job in line is released (a job another process ended,
    // a cancel, says so itself; the heartbeat catches anything missed).
    this.worker.on('completed', () => this.scheduling.kick());
    this.worker.on('failed', () => this.scheduling.kick());
    this.worker.on('error', (error) => logger.error({ err: error }, 'worker error'));

    this.outboxConnection = createRedis(config.redisUrl, 'worker', config.prefix);
    this.outbox = new JobOutbox(this.redis, this.outboxConnection, keys, {
      onError: (error, jobId) => logger.error({ err: error, job_id: jobId }, 'job-ended handler failed; will retry'),
    });
    // A tenant's TPM was charged an estimate when its job was released: what the job's calls used
    // upstream (every attempt billed; nothing for one that failed before a reply) corrects it.
    this.outbox.use(async (job, record) => {
      const limits = config.tenants.get(record.tenant);
      if (!limits?.tpm && !limits?.rpm) return;
      // a refund may make the tenant ready now, not when the release step last said
      if (await this.scheduling.scheduler.settleTokens(record.tenant, job.id, record.billed_prompt_tokens + record.billed_completion_tokens)) this.scheduling.kick();
    });
    // A reservation an ended job still holds (its worker died, or it was cancelled mid-call) is settled before its record is read.
    const budget = options.budget;
    if (budget) this.outbox.before(async (jobId) => void (await budget.settleLeftover(jobId)));
    // First: an identical job waiting for this one's leadership or result should not wait on the store.
    this.outbox.use(responseCache.onJobEnded);
    for (const handler of options.onJobEnded ?? []) this.outbox.use(handler);
    this.outbox.start();

    // Whichever worker holds a cancelled job aborts its upstream request; a 429 pause reaches every worker.
    const cancelChannel = keys.cancelChannel();
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === cancelChannel) return this.worker.cancelJob(message, ABORT_CANCELLED);
      const pause = parsePauseAnnouncement(message);
      if (pause) this.pool.notePause(pause.upstream, pause.ms);
    });
    void this.subscriber.subscribe(cancelChannel, keys.upstreamPauseChannel());
    void this.scheduling.start();
  }

  /** BullMQ gave up on a job (stalled too often, or an error outside an attempt): end it as failed. */
  private async onFailed(job: Job<ChatJobData> | undefined, error: Error): Promise<void> {
    if (!job || !(await job.isFailed().catch(() => false))) return;
    const fields = await this.jobs.get(job.data.jobId).catch(() => null);
    if (!fields) return;
    const outcome = { status: 'failed' as const, error: { code: 'interrupted', message: 'The job could not be completed' } };
    const finished = await this.jobs.finish(job.data.jobId, fields, outcome).catch(() => null);
    if (finished?.state === 'finished') this.options.logger.warn({ job_id: job.data.jobId, err: error }, 'job failed outside an attempt');
  }

  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /**
   * Stops taking jobs; lets the ones in flight finish for up to `graceMs`, then hands the rest
   * back to the queue (their text so far stays, and the next worker continues it). Handing back
   * waits for Redis, and BullMQ's close never ends if it began while Redis was down
   * (taskforcesh/bullmq#4656): a process that must stop regardless bounds the wait (main.ts does).
   */
  async close(graceMs = 10_000): Promise<void> {
    this.scheduling.stop();
    const closing = this.worker.close();
    const grace = setTimeout(() => this.worker.cancelAllJobs(ABORT_SHUTDOWN), graceMs);
    await closing;
    clearTimeout(grace);
    this.workerConnection.disconnect();
    await this.outbox.stop();
    this.outboxConnection.disconnect();
    await this.queue.close();
    this.queueConnection.disconnect();
    this.subscriber.disconnect();
    this.followSubscriber.disconnect();
    this.pool.close();
    if (this.ownsRedis) await this.redis.quit().catch(() => undefined);
  }
}
