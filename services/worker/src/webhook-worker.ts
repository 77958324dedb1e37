import { Worker, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '@spool/config';
import { WEBHOOK_QUEUE, createKeys, createRedis, createWebhookQueue, webhookJobId, webhookJobOptions, type RedisClient, type WebhookJobData } from '@spool/queue';
import type { JobEndedHandler } from '@spool/jobs';
import type { Metrics } from '@spool/metrics';
import { DeliveryLog, TenantSlots, resolveWebhookSecret, type ResolveHost } from '@spool/webhooks';
import { createWebhookProcessor, webhookRetryDelayMs } from './webhook-processor.js';

export interface WebhookWorkerOptions {
  config: Config;
  logger: Logger;
  /** command connection; default: a new one from REDIS_URL */
  redis?: RedisClient;
  /** an attempt with no answer for this long fails; default 15 s */
  timeoutMs?: number;
  /** deliveries in flight at once in this process; default 32 */
  concurrency?: number;
  /** how long a delivery over its tenant's cap waits before asking again; default 1 s (up to twice that, jittered) */
  deferMs?: number;
  /** how webhook hosts are resolved; default `dns.lookup` */
  resolve?: ResolveHost;
  /** this process's metrics (spool_webhook_deliveries_total); default: none counted */
  metrics?: Metrics;
}

/** A webhook event: `job.succeeded|failed|cancelled` or `batch.completed|cancelled`. */
export interface WebhookEvent {
  /** the job or batch it is about; one delivery per owner */
  ownerId: string;
  /** whose webhook it is: each tenant has SPOOL_WEBHOOK_TENANT_CONCURRENCY delivery slots */
  tenant: string;
  url: string;
  type: string;
  /** when it happened, Unix seconds */
  timestamp: number;
  data: unknown;
  /** the trace the delivery joins (the job's, when it was submitted with tracing on) */
  traceparent?: string | null;
}

/**
 * Delivers webhooks from their own queue, beside (never inside) the chat workers, and enqueues
 * them: `onJobEnded` is the outbox handler for jobs that have a webhook.
 */
export class WebhookWorker {
  readonly worker: Worker<WebhookJobData>;
  readonly queue: Queue<WebhookJobData>;
  private readonly redis: RedisClient;
  private readonly workerConnection: RedisClient;
  private readonly ownsRedis: boolean;

  constructor(private readonly options: WebhookWorkerOptions) {
    const { config, logger } = options;
    const keys = createKeys(config.prefix);
    this.ownsRedis = !options.redis;
    this.redis = options.redis ?? createRedis(config.redisUrl, 'worker', config.prefix);
    this.queue = createWebhookQueue(this.redis, config.prefix);
    const timeoutMs = options.timeoutMs ?? 15_000;
    const processor = createWebhookProcessor({
      deliveries: new DeliveryLog(this.redis, keys),
      secret: () => this.signingSecret(),
      allowPrivate: config.webhookAllowPrivate,
      timeoutMs,
      resolve: options.resolve,
      logger,
      metrics: options.metrics,
      // The lease outlives an attempt (DNS lookup, then the POST's timeout) by a margin.
      slots: new TenantSlots(this.redis, keys, { perTenant: config.webhookTenantConcurrency, leaseMs: timeoutMs + 15_000 }),
      deferMs: options.deferMs ?? 1000,
    });
    this.workerConnection = createRedis(config.redisUrl, 'worker', config.prefix);
    this.worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, processor, {
      connection: this.workerConnection,
      prefix: keys.control,
      concurrency: options.concurrency ?? 32,
      settings: { backoffStrategy: (attemptsMade: number) => webhookRetryDelayMs(attemptsMade, config.webhookBackoffMs) },
    });
    this.worker.on('error', (error) => logger.error({ err: error }, 'webhook worker error'));
  }

  /**
   * SPOOL_WEBHOOK_SECRET, or the one every process shares through Redis (made by the first),
   * read again for every delivery: a cached copy would split from the others' after Redis lost it.
   */
  private async signingSecret(): Promise<string> {
    const { config, logger } = this.options;
    const key = createKeys(config.prefix).webhookSecret();
    const { secret, source } = await resolveWebhookSecret(this.redis, key, config.webhookSecret);
    if (source === 'generated') logger.info({ key }, 'generated a webhook signing secret and stored it in Redis');
    return secret;
  }

  /** Enqueues one delivery per owner: a repeated call for the same job or batch adds nothing. */
  async send(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
    const data: WebhookJobData = { webhookId: webhookJobId(event.ownerId), ownerId: event.ownerId, tenant: event.tenant, url: event.url, body, ...(event.traceparent && { traceparent: event.traceparent }) };
    await this.queue.add(event.type, data, webhookJobOptions(event.ownerId));
  }

  /** Outbox handler: a job with a webhook has ended. */
  readonly onJobEnded: JobEndedHandler = async (job, record) => {
    if (!record.webhook_url) return;
    await this.send({ ownerId: job.id, tenant: record.tenant, url: record.webhook_url, type: `job.${job.status}`, timestamp: job.finished_at ?? Math.floor(Date.now() / 1000), data: job, traceparent: record.traceparent });
  };

  async waitUntilReady(): Promise<void> {
    await Promise.all([this.worker.waitUntilReady(), this.signingSecret()]);
  }

  /** Stops taking deliveries and waits for those in flight (each ends within its timeout); `send` still works. */
  async stopDeliveries(): Promise<void> {
    await this.worker.close();
  }

  /** Stops deliveries, then sending, and lets go of Redis. */
  async close(): Promise<void> {
    await this.stopDeliveries();
    await this.queue.close();
    await this.workerConnection.quit().catch(() => undefined);
    if (this.ownsRedis) await this.redis.quit().catch(() => undefined);
  }
}
