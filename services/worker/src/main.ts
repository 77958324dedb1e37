import { loadConfig, createLogger, logProcessErrors } from '@spool/config';
import { checkEvictionPolicy, createKeys, createRedis, redactUrl, waitForRedis } from '@spool/queue';
import { BatchRepository, JobRepository, SessionTurns } from '@spool/jobs';
import { createMetrics, serveMetrics } from '@spool/metrics';
import { createStore, type Store } from '@spool/store';
import { SpoolWorker } from './worker.js';
import { WebhookWorker } from './webhook-worker.js';
import { recordBatchResult } from './batch-results.js';
import { recordJob } from './record-job.js';
import { startStoreRetention } from './store-retention.js';

const config = loadConfig();
const logger = createLogger({ name: 'spool-worker', level: config.logLevel, pretty: config.logPretty });
logProcessErrors(logger);

const redis = createRedis(config.redisUrl, 'worker', config.prefix);
try {
  await waitForRedis(redis, config.redisUrl);
} catch (error) {
  logger.fatal((error as Error).message);
  process.exit(1);
}
const policy = await checkEvictionPolicy(redis);
if (policy) logger.warn(`Redis maxmemory-policy is ${policy}: set it to noeviction or queued jobs can be lost`);

let store: Store;
try {
  store = createStore(config.storeUrl, { onError: (error) => logger.warn({ err: error }, 'store connection lost') });
} catch (error) {
  logger.fatal({ err: error }, 'cannot open the store (SPOOL_STORE_URL)');
  process.exit(1);
}
await store.ping().catch((error) => logger.warn({ err: error }, 'store unavailable: job records and session turns are written once it answers'));
const metrics = createMetrics({ service: 'worker' });
const webhooks = new WebhookWorker({ config, logger, redis, metrics });
const batches = new BatchRepository(redis, createKeys(config.prefix));
const sessionTurns = new SessionTurns(store, new JobRepository(redis, createKeys(config.prefix), { eventsTtlSeconds: config.eventsTtlSeconds }), { contextTokens: config.contextTokens });
const worker = new SpoolWorker({
  config,
  logger,
  redis,
  metrics,
  prepareRequest: sessionTurns.history,
  // The store's handlers come last: while it is down they fail (and are retried) without holding up webhooks.
  onJobEnded: [recordBatchResult(batches, webhooks), webhooks.onJobEnded, recordJob(store), sessionTurns.append],
});
await Promise.all([worker.waitUntilReady(), webhooks.waitUntilReady()]);
const retention = startStoreRetention({ store, redis, lockKey: createKeys(config.prefix).storePruneRound(), retentionDays: config.storeRetentionDays, logger });
// A second worker on the same machine finds the port taken: it works on, without /metrics.
const metricsServer = config.metricsPort
  ? await serveMetrics(metrics.registry, config.metricsPort, config.host, config.metricsKey).catch((error: Error) => {
      logger.warn({ err: error, port: config.metricsPort }, 'metrics port unavailable: this worker serves no /metrics (set SPOOL_METRICS_PORT)');
      return undefined;
    })
  : undefined;
logger.info(
  {
    redis: redactUrl(config.redisUrl),
    upstream: config.openaiBaseUrl ?? 'https://api.openai.com/v1',
    concurrency: config.workerConcurrency,
    metrics: metricsServer?.url,
  },
  'worker ready',
);

/** After a SIGTERM, jobs in flight get this long to finish; then they are handed back to the queue. */
const STOP_GRACE_MS = 10_000;
/**
 * When the process exits even if closing has not finished: after the grace and a webhook
 * delivery's 15 s timeout (they run side by side), with time to spare for handing jobs back.
 */
const STOP_DEADLINE_MS = 20_000;

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker stopping: finishing jobs in flight');
  // Closing waits for Redis (to hand jobs back, to close connections); without it, exit anyway:
  // jobs still running are then taken over by another worker once their locks expire.
  setTimeout(() => {
    logger.error({ lock_ms: config.lockMs }, 'worker stop timed out (is Redis reachable?): exiting; jobs still running are taken over once their locks expire');
    process.exit(1);
  }, STOP_DEADLINE_MS);
  retention.stop();
  // Deliveries in flight end while the chat jobs finish; the outbox still enqueues new ones until the chat worker has closed.
  const deliveriesStopped = webhooks.stopDeliveries();
  await worker.close(STOP_GRACE_MS);
  await deliveriesStopped;
  await webhooks.close();
  await store.close();
  metricsServer?.server.close();
  await redis.quit().catch(() => undefined);
  logger.info('worker stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
