/** `npm test` needs a Redis; say so in one line instead of letting every test time out. */
import { Redis } from 'ioredis';
import { loadConfig } from '@spool/config';
import { redactUrl } from '@spool/queue';

const { redisUrl } = loadConfig();
const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
try {
  await redis.connect();
  await redis.ping();
  redis.disconnect();
} catch {
  console.error(`npm test needs a Redis at ${redactUrl(redisUrl)} (REDIS_URL): start one with 'redis-server --daemonize yes' or set REDIS_URL.`);
  process.exit(1);
}
