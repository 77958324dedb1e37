import { hostname } from 'node:os';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config, UpstreamSettings } from '@spool/config';
import { ResponseCache, type BatchRepository, type JobRepository } from '@spool/jobs';
import { ProviderBatchClient } from '@spool/llm';
import type { Metrics } from '@spool/metrics';
import { CHAT_QUEUE, PROVIDER_BATCH_QUEUE, FairScheduler, pendingLimitFor, createKeys, createRedis, type ChatJobData, type ProviderBatchJobData, type RedisClient } from '@spool/queue';
import { ProviderBatchPoller } from './provider-batch-poller.js';
import { ProviderBatchStates } from './provider-batch-state.js';

export interface ProviderBatchWorkerOptions {
  config: Config;
  logger: Logger;
  /** the process's command connection */
  redis: RedisClient;
  jobs: JobRepository;
  batches: BatchRepository;
  /** this process's metrics */
  metrics?: Metrics;
}

/** Provider batches one worker process drives at once; each step is a few upstream calls, or the reading of a file. */
const CONCURRENCY = 4;
/** A step taken over after a dead worker is no failure: many in a row are tolerated. */
const MAX_STALLED = 100;

/**
 * The worker's side of provider-mode batches: a BullMQ worker on the provider-batch queue whose
 * entries run one step of `ProviderBatchPoller` each, and wait as delayed entries in between (no
 * worker holds a batch while it waits, so a restart loses nothing and any worker takes the next step).
 */
export class ProviderBatchWorker {
  private readonly worker: Worker<ProviderBatchJobData>;
  private readonly chatQueue: Queue<ChatJobData>;
  /** BullMQ closes the connections it makes, not the ones it is given: these are closed here */
  private readonly workerConnection: RedisClient;
  private readonly queueConnection: RedisClient;
  private readonly clients = new Map<string, ProviderBatchClient>();
  private readonly poller: ProviderBatchPoller;

  constructor(options: ProviderBatchWorkerOptions) {
    const { config, logger, redis } = options;
    const keys = createKeys(config.prefix);
    this.queueConnection = createRedis(config.redisUrl, 'worker', config.prefix);
    this.chatQueue = new Queue<ChatJobData>(CHAT_QUEUE, { connection: this.queueConnection, prefix: keys.control });
    this.poller = new ProviderBatchPoller({
      config,
      logger,
      redis,
      keys,
      jobs: options.jobs,
      batches: options.batches,
      states: new ProviderBatchStates(redis, keys),
      scheduler: new FairScheduler(redis, keys, this.chatQueue, { maxAttempts: config.maxAttempts, pendingLimit: pendingLimitFor(config.upstreams) }),
      clientFor: (upstream) => this.clientFor(upstream, config),
      metrics: options.metrics,
      cache: ResponseCache.fromConfig(redis, keys, config),
    });
    this.workerConnection = createRedis(config.redisUrl, 'worker', config.prefix);
    this.worker = new Worker<ProviderBatchJobData>(PROVIDER_BATCH_QUEUE, (job, token) => this.process(job, token), {
      connection: this.workerConnection,
      prefix: keys.control,
      concurrency: CONCURRENCY,
      name: `${hostname()}:${process.pid}`,
      lockDuration: config.lockMs,
      stalledInterval: Math.max(1000, Math.floor(config.lockMs / 2)),
      maxStalledCount: MAX_STALLED,
    });
    this.worker.on('failed', (job, error) => {
      if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
      logger.error({ err: error, batch_id: job.data.batchId }, 'provider batch: its poller gave up; its requests run live');
      this.poller.giveUp(job.data.batchId).catch((giveUpError: unknown) => logger.error({ err: giveUpError, batch_id: job.data.batchId }, 'provider batch: could not hand its requests to the chat queue'));
    });
    this.worker.on('error', (error) => logger.error({ err: error }, 'provider batch worker error'));
  }

  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker.close();
    this.workerConnection.disconnect();
    await this.chatQueue.close();
    this.queueConnection.disconnect();
  }

  private async process(job: Job<ProviderBatchJobData>, token?: string): Promise<void> {
    const step = await this.poller.step(job.data.batchId);
    if (step.next === 'done') return;
    await job.moveToDelayed(Date.now() + step.delayMs, token);
    throw new DelayedError();
  }

  private clientFor(upstream: UpstreamSettings, config: Config): ProviderBatchClient {
    let client = this.clients.get(upstream.name);
    if (!client) {
      client = new ProviderBatchClient({ baseURL: upstream.baseUrl, apiKey: upstream.apiKey, headers: upstream.headers, timeoutMs: config.upstreamTimeoutMs, stallTimeoutMs: config.stallTimeoutMs });
      this.clients.set(upstream.name, client);
    }
    return client;
  }
}
