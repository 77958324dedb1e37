import { setMaxListeners } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '@spool/config';
import { FairScheduler, pendingLimitFor, createChatQueue, createKeys, createProviderBatchQueue, createRedis, watchConnection, waitForRedis, type RedisClient } from '@spool/queue';
import { BatchRepository, JobRepository, ResponseCache } from '@spool/jobs';
import { DeliveryLog } from '@spool/webhooks';
import { EventHub, EventLog } from '@spool/stream';
import { createStore, type Store } from '@spool/store';
import type { OffThreadTracer } from '@spool/tracing';
import { createApp } from './app.js';
import { expressShapes } from './express-shapes.js';
import type { AppDeps } from './deps.js';

export interface ApiServerOptions {
  config: Config;
  logger: Logger;
  heartbeatMs?: number;
  /** how long a `/v1/chat/completions` call waits for its job before answering 504, 1 h */
  doorWaitMs?: number;
  /** each job submission's span, when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT) */
  tracer?: OffThreadTracer;
  /** default: the one SPOOL_STORE_URL names, closed with the server */
  store?: Store;
}

/** The API with its connections: one command connection and one subscriber, however many watchers. */
export class ApiServer {
  readonly deps: AppDeps;
  readonly server: Server;
  private readonly subscriber: RedisClient;
  private readonly ownsStore: boolean;
  private readonly shutdown = new AbortController();
  private readonly inFlight = new Set<ServerResponse>();

  constructor(options: ApiServerOptions) {
    const { config, logger } = options;
    const keys = createKeys(config.prefix);
    const redis = createRedis(config.redisUrl, 'command', config.prefix);
    this.subscriber = createRedis(config.redisUrl, 'subscriber', config.prefix);
    watchConnection(redis, logger);
    this.ownsStore = !options.store;
    const queue = createChatQueue(redis, config.prefix);
    this.deps = {
      config,
      logger,
      redis,
      keys,
      queue,
      scheduler: new FairScheduler(redis, keys, queue, { maxAttempts: config.maxAttempts, pendingLimit: pendingLimitFor(config.upstreams) }),
      providerBatches: createProviderBatchQueue(redis, config.prefix),
      jobs: new JobRepository(redis, keys, {
        eventsTtlSeconds: config.eventsTtlSeconds,
        maxQueuedJobs: config.tenantMaxQueued,
        maxQueuedBytes: config.tenantMaxQueuedBytes,
      }),
      batches: new BatchRepository(redis, keys),
      responseCache: ResponseCache.fromConfig(redis, keys, config),
      deliveries: new DeliveryLog(redis, keys),
      log: new EventLog(redis, keys),
      hub: new EventHub(redis, this.subscriber, keys),
      store: options.store ?? createStore(config.storeUrl, { onError: (error) => logger.warn({ err: error }, 'store connection lost') }),
      heartbeatMs: options.heartbeatMs,
      doorWaitMs: options.doorWaitMs,
      tracer: options.tracer,
      shutdown: this.shutdown.signal,
    };
    setMaxListeners(0, this.shutdown.signal); // one listener per `?wait` request held
    const app = createApp(this.deps);
    // Tracked before the app runs: Express answers some routes at once, and a header set after that throws.
    this.server = createServer(expressShapes(app), (req, res) => {
      this.track(res);
      app(req, res);
    });
  }

  private get draining(): boolean {
    return this.shutdown.signal.aborted;
  }

  private track(res: ServerResponse): void {
    if (this.draining) res.setHeader('connection', 'close');
    this.inFlight.add(res);
    res.on('close', () => {
      this.inFlight.delete(res);
      // Kept alive, its connection would hold the close up until the keep-alive timeout.
      if (this.draining) this.server.closeIdleConnections();
    });
  }

  /** Waits for Redis, then listens on `port` (0: a free one); resolves to the base URL. */
  async listen(port = this.deps.config.port, host = this.deps.config.host): Promise<string> {
    await waitForRedis(this.deps.redis, this.deps.config.redisUrl);
    await this.deps.scheduler.applyPolicies(this.deps.config.tenants);
    // Migrates the store; one that is down only makes /readyz say so, and is tried again on use.
    await this.deps.store.ping().catch((error) => this.deps.logger.warn({ err: error }, 'store unavailable'));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${shownHost}:${address.port}`;
  }

  /**
   * Stops taking connections and lets the requests in progress finish, for up to `drainMs`
   * (then cuts them); event streams end at once, for their clients to resume elsewhere. Every
   * answer from now on closes its connection. Then lets go of Redis and the store.
   */
  async close(drainMs = 30_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.shutdown.abort();
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    this.server.closeIdleConnections();
    const deadline = setTimeout(() => this.server.closeAllConnections(), drainMs);
    await closed;
    clearTimeout(deadline);
    await this.deps.queue.close();
    await this.deps.providerBatches.close();
    this.subscriber.disconnect();
    await this.deps.redis.quit().catch(() => undefined);
    if (this.ownsStore) await this.deps.store.close();
  }
}
