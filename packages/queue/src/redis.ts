import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseClusterUrl, redactUrl } from '@spool/config';

/** A connection to a single Redis or to a Redis Cluster: Spool runs the same commands on both. */
export type RedisClient = Redis | Cluster;

export type { Redis, Cluster };
export { redactUrl };

/**
 * Connection presets from BullMQ's "going to production":
 * - `command`: the API's connection; fails fast so requests answer 503 instead of hanging (no
 *   auto-pipelining: ioredis copies every loaded script, BullMQ's dozens, into each pipeline);
 * - `worker`: blocking and long-lived; retries forever (`maxRetriesPerRequest: null`);
 * - `subscriber`: pub/sub; retries forever and resubscribes on reconnect. On a cluster it also
 *   SSUBSCRIBEs (jobs' events, pubsub.ts): one more connection per master, opened once one of
 *   that master's channels is subscribed, and moved with its slots on a failover.
 */
export type ConnectionRole = 'command' | 'worker' | 'subscriber';

const retryStrategy = (times: number) => Math.min(times * 100, 2000);

/**
 * A connection for `role`; `name` shows in CLIENT LIST as `<name>-<role>` (the key prefix makes a
 * good one). A `redis+cluster://` URL gives an ioredis `Cluster` with the role's options on each
 * node's connection.
 */
export function createRedis(url: string, role: ConnectionRole, name = 'spool', extra: RedisOptions = {}): RedisClient {
  const options: RedisOptions = {
    connectionName: `${name}-${role}`,
    retryStrategy,
    ...(role === 'command'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 }
      : { maxRetriesPerRequest: null }),
    ...extra,
  };
  const cluster = parseClusterUrl(url);
  const redis = cluster ? createCluster(cluster, options, role === 'subscriber') : new Redis(url, options);
  // Failures surface through the commands that hit them and through readiness checks;
  // `watchConnection` logs the outage itself once.
  redis.on('error', () => undefined);
  return redis;
}

function createCluster(cluster: NonNullable<ReturnType<typeof parseClusterUrl>>, options: RedisOptions, shardedSubscribers: boolean): Cluster {
  const { enableOfflineQueue, lazyConnect, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...nodeOptions,
      ...(cluster.username && { username: cluster.username }),
      ...(cluster.password && { password: cluster.password }),
      ...(cluster.tls && { tls: {} }),
    },
    clusterRetryStrategy: options.retryStrategy ?? retryStrategy,
    shardedSubscribers,
    // With TLS the nodes are reached by the names the cluster gives, so that their certificates match (ElastiCache).
    ...(cluster.tls && { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }),
    ...(enableOfflineQueue !== undefined && { enableOfflineQueue }),
    ...(lazyConnect !== undefined && { lazyConnect }),
  };
  return new Cluster(cluster.nodes, clusterOptions);
}

/** Logs a lost Redis connection once, and its return. */
export function watchConnection(redis: RedisClient, logger: { warn(object: object, message: string): void; info(message: string): void }): void {
  let lost = false;
  redis.on('error', (error: Error) => {
    if (lost) return;
    lost = true;
    logger.warn({ err: { message: error.message } }, 'Redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    logger.info('Redis connection back');
  });
}

/** Resolves once Redis answers PING, or rejects after `timeoutMs` with a message a person can act on. */
export async function waitForRedis(redis: RedisClient, url: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await redis.ping();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`Redis at ${redactUrl(url)} does not answer (${reason})`);
}

/** Whether a Redis (or a cluster, all its slots served) answers PING at `url`, tried once on a connection of its own (closed after) that waits `timeoutMs` to connect. */
export async function redisAnswers(url: string, timeoutMs: number): Promise<boolean> {
  const redis = createRedis(url, 'command', 'spool-probe', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** BullMQ loses jobs under eviction; say so loudly at start. */
export async function checkEvictionPolicy(redis: RedisClient): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    return policy && policy !== 'noeviction' ? policy : undefined;
  } catch {
    return undefined; // managed Redis may forbid CONFIG
  }
}
