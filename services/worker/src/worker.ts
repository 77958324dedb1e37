import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '@spool/config';
import { CHAT_QUEUE, createKeys, createRedis, type ChatJobData, type Redis } from '@spool/queue';
import { JobRepository } from '@spool/jobs';
import { EventLog } from '@spool/stream';
import { UpstreamClient } from '@spool/llm';
import { createChatProcessor } from './chat-processor.js';
import { retryDelayMs } from './backoff.js';

export interface SpoolWorkerOptions {
  config: Config;
  logger: Logger;
  /** command connection; default: a new one from REDIS_URL */
  redis?: Redis;
  upstream?: UpstreamClient;
  coalesceMs?: number;
}

/** A worker process's moving parts: the BullMQ worker, its Redis connections, cancel listening. */
export class SpoolWorker {
  readonly worker: Worker<ChatJobData>;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly active = new Map<string, AbortController>();
  private readonly jobs: JobRepository;
  private readonly ownsRedis: boolean;

  constructor(private readonly options: SpoolWorkerOptions) {
    const { config, logger } = options;
    const keys = createKeys(config.prefix);
    this.ownsRedis = !options.redis;
    this.redis = options.redis ?? createRedis(config.redisUrl, 'worker', config.prefix);
    this.subscriber = createRedis(config.redisUrl, 'subscriber', config.prefix);
    this.jobs = new JobRepository(this.redis, keys, config.eventsTtlSeconds);
    const upstream =
      options.upstream ??
      new UpstreamClient({
        baseURL: config.openaiBaseUrl,
        apiKey: config.openaiApiKey,
        timeoutMs: config.upstreamTimeoutMs,
        stallTimeoutMs: config.stallTimeoutMs,
      });
    const processor = createChatProcessor({
      jobs: this.jobs,
      log: new EventLog(this.redis, keys),
      upstream,
      logger,
      maxAttempts: config.maxAttempts,
      active: this.active,
      coalesceMs: options.coalesceMs,
    });
    this.worker = new Worker<ChatJobData>(CHAT_QUEUE, processor, {
      connection: createRedis(config.redisUrl, 'worker', config.prefix),
      prefix: config.prefix,
      concurrency: config.workerConcurrency,
      name: `${hostname()}:${process.pid}`,
      lockDuration: config.lockMs,
      stalledInterval: Math.max(1000, Math.floor(config.lockMs / 2)),
      // A takeover after a dead worker is an attempt of ours, counted by the processor.
      maxStalledCount: config.maxAttempts,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          retryDelayMs(attemptsMade, config.backoffMs, error),
      },
    });
    this.worker.on('failed', (job, error) => void this.onFailed(job, error));
    this.worker.on('error', (error) => logger.error({ err: error }, 'worker error'));

    this.subscriber.on('message', (_channel: string, jobId: string) => this.active.get(jobId)?.abort());
    void this.subscriber.subscribe(keys.cancelChannel());
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

  /** Stops taking jobs and lets the ones in flight finish. */
  async close(): Promise<void> {
    await this.worker.close();
    this.subscriber.disconnect();
    if (this.ownsRedis) await this.redis.quit().catch(() => undefined);
  }
}
