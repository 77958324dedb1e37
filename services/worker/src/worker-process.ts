import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '@spool/config';
import { checkEvictionPolicy, createKeys, createRedis, readUpstreamGauges, waitForRedis, type RedisClient } from '@spool/queue';
import { BatchRepository, JobRepository, SessionTurns } from '@spool/jobs';
import { createMetrics, serveMetrics, type Metrics } from '@spool/metrics';
import { createStore, type Store } from '@spool/store';
import { EventLog } from '@spool/stream';
import { SpoolWorker } from './worker.js';
import { WebhookWorker } from './webhook-worker.js';
import { ProviderBatchWorker } from './provider-batch-worker.js';
import { recordBatchResult } from './batch-results.js';
import { recordJob } from './record-job.js';
import { Budget } from './budget.js';
import { startStoreRetention } from './store-retention.js';
import { WorkerStopTimeoutError } from './errors.js';
import type { UpstreamHealthOptions } from './upstream-health.js';

export interface WorkerProcessOptions {
  config: Config;
  logger: Logger;
  /** the store; default: the one SPOOL_STORE_URL names, closed with the process */
  store?: Store;
  /** a webhook attempt with no answer for this long fails; default 15 s */
  webhookTimeoutMs?: number;
  /** failed calls in a row that take an upstream out, and for how long (5 and 30 s); tests shorten them */
  upstreamHealth?: UpstreamHealthOptions;
}

export interface WorkerStopOptions {
  /** jobs in flight get this long to finish, then they are handed back to the queue; default 10 s */
  graceMs?: number;
  /**
   * `close` rejects with a `WorkerStopTimeoutError` after this long even if closing has not
   * finished (it waits for Redis); default 20 s: the grace and a webhook delivery's 15 s timeout
   * (they run side by side), with time to spare for handing jobs back.
   */
  deadlineMs?: number;
}

interface Running {
  chat: SpoolWorker;
  webhooks: WebhookWorker;
  providerBatches: ProviderBatchWorker;
  retention?: { stop(): void };
  metricsServer?: Server;
}

/**
 * Everything a worker process runs, wired once (main.ts and the tests use it): the chat worker
 * and its outbox handlers, the webhook worker, the provider-batch poller, store retention and
 * `/metrics`, on one command connection. Its workers take jobs only once `start` has found Redis answering.
 */
export class WorkerProcess {
  readonly metrics: Metrics;
  readonly store: Store;
  /** where this worker serves `/metrics`, once started; none when SPOOL_METRICS_PORT is 0 or its port was taken */
  metricsUrl: string | undefined;
  private readonly redis: RedisClient;
  private readonly ownsStore: boolean;
  private running: Running | undefined;

  /** Throws when the store cannot be opened (a bad SPOOL_STORE_URL). */
  constructor(private readonly options: WorkerProcessOptions) {
    const { config, logger } = options;
    this.ownsStore = !options.store;
    this.store = options.store ?? createStore(config.storeUrl, { onError: (error) => logger.warn({ err: error }, 'store connection lost') });
    this.redis = createRedis(config.redisUrl, 'worker', config.prefix);
    const keys = createKeys(config.prefix);
    const upstreams = config.upstreams.map((upstream) => upstream.name);
    this.metrics = createMetrics({ service: 'worker', upstreams: () => readUpstreamGauges(this.redis, keys, upstreams) });
  }

  /** The chat worker; there once `start` has begun. */
  get chat(): SpoolWorker {
    return this.started().chat;
  }

  /** The webhook worker beside it. */
  get webhooks(): WebhookWorker {
    return this.started().webhooks;
  }

  private started(): Running {
    if (!this.running) throw new Error('the worker process has not started');
    return this.running;
  }

  /** Waits for Redis (rejects with a message a person can act on when it does not answer), then takes jobs. */
  async start(): Promise<void> {
    const { config, logger } = this.options;
    await waitForRedis(this.redis, config.redisUrl);
    const policy = await checkEvictionPolicy(this.redis);
    if (policy) logger.warn(`Redis maxmemory-policy is ${policy}: set it to noeviction or queued jobs can be lost`);
    await this.store.ping().catch((error) => logger.warn({ err: error }, 'store unavailable: job records and session turns are written once it answers'));

    const keys = createKeys(config.prefix);
    const { store, redis, metrics } = this;
    const webhooks = new WebhookWorker({ config, logger, redis, metrics, timeoutMs: this.options.webhookTimeoutMs });
    const batches = new BatchRepository(redis, keys);
    const jobs = new JobRepository(redis, keys, { eventsTtlSeconds: config.eventsTtlSeconds });
    const sessionTurns = new SessionTurns(store, jobs, { contextTokens: (model) => config.models.get(model)?.contextTokens ?? config.contextTokens });
    const chat = new SpoolWorker({
      config,
      logger,
      redis,
      metrics,
      prepareRequest: sessionTurns.history,
      upstreamHealth: this.options.upstreamHealth,
      budget: new Budget(redis, keys, { tenants: config.tenants, models: config.models, store, log: new EventLog(redis, keys), logger }),
      // The store's handlers come last: while it is down they fail (and are retried) without holding up webhooks.
      onJobEnded: [recordBatchResult(batches, webhooks), webhooks.onJobEnded, recordJob(store), sessionTurns.append],
    });
    const providerBatches = new ProviderBatchWorker({ config, logger, redis, jobs, batches, metrics });
    const running: Running = { chat, webhooks, providerBatches };
    this.running = running;
    await Promise.all([chat.waitUntilReady(), webhooks.waitUntilReady(), providerBatches.waitUntilReady()]);
    running.retention = startStoreRetention({ store, redis, lockKey: keys.storePruneRound(), retentionDays: config.storeRetentionDays, logger });
    // A second worker on the same machine finds the port taken: it works on, without /metrics.
    const served = config.metricsPort
      ? await serveMetrics(metrics.registry, config.metricsPort, config.host, config.metricsKey).catch((error: Error) => {
          logger.warn({ err: error, port: config.metricsPort }, 'metrics port unavailable: this worker serves no /metrics (set SPOOL_METRICS_PORT)');
          return undefined;
        })
      : undefined;
    running.metricsServer = served?.server;
    this.metricsUrl = served?.url;
  }

  /**
   * Stops taking jobs; jobs in flight get `graceMs` to finish, then are handed back to the
   * queue. Closing waits for Redis (to hand jobs back, to close connections): past `deadlineMs`
   * it rejects, and jobs still running are taken over by another worker once their locks expire.
   */
  async close(options: WorkerStopOptions = {}): Promise<void> {
    const deadlineMs = options.deadlineMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WorkerStopTimeoutError(deadlineMs)), deadlineMs);
    });
    try {
      await Promise.race([this.stop(options.graceMs ?? 10_000), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async stop(graceMs: number): Promise<void> {
    const running = this.running;
    if (running) {
      running.retention?.stop();
      // Deliveries in flight end while the chat jobs finish; the outbox still enqueues new ones until the chat worker has closed.
      const deliveriesStopped = running.webhooks.stopDeliveries();
      await Promise.all([running.chat.close(graceMs), running.providerBatches.close()]);
      await deliveriesStopped;
      await running.webhooks.close();
      running.metricsServer?.close();
      running.metricsServer?.closeAllConnections();
    }
    if (this.ownsStore) await this.store.close();
    await this.redis.quit().catch(() => undefined);
  }
}

/** A worker process's parts, not yet started: see `WorkerProcess`. */
export function createWorkerProcess(options: WorkerProcessOptions): WorkerProcess {
  return new WorkerProcess(options);
}
