import { loadConfig, createLogger } from '@spool/config';
import { checkEvictionPolicy, createRedis, redactUrl, waitForRedis } from '@spool/queue';
import { SpoolWorker } from './worker.js';

const config = loadConfig();
const logger = createLogger({ name: 'spool-worker', level: config.logLevel });

const redis = createRedis(config.redisUrl, 'worker', config.prefix);
try {
  await waitForRedis(redis, config.redisUrl);
} catch (error) {
  logger.fatal((error as Error).message);
  process.exit(1);
}
const policy = await checkEvictionPolicy(redis);
if (policy) logger.warn(`Redis maxmemory-policy is ${policy}: set it to noeviction or queued jobs can be lost`);

const worker = new SpoolWorker({ config, logger, redis });
await worker.waitUntilReady();
logger.info(
  { redis: redactUrl(config.redisUrl), upstream: config.openaiBaseUrl ?? 'https://api.openai.com/v1', concurrency: config.workerConcurrency },
  'worker ready',
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker stopping: finishing jobs in flight');
  await worker.close();
  await redis.quit().catch(() => undefined);
  logger.info('worker stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
