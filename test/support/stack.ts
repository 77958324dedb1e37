import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { Cluster } from 'ioredis';
import { loadConfig, type Config } from '@spool/config';
import { ApiServer } from '@spool/api';
import { createRedis, queuePrefix, waitForRedis, type RedisClient } from '@spool/queue';
import { createWorkerProcess, type SpoolWorker, type WebhookWorker, type WorkerProcess, type WorkerProcessOptions } from '@spool/worker';
import { createStore, type Store } from '@spool/store';
import { createSimulator, type Simulator, type SimulatorOptions } from '@spool/simulator';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A configuration isolated by a fresh key prefix. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL,
    SPOOL_PREFIX: `test-${randomUUID().slice(0, 12)}`,
    PORT: '0',
    LOG_LEVEL: 'silent',
    SPOOL_LOCK_MS: '2000',
    SPOOL_BACKOFF_MS: '50',
    // tests that flood the API on purpose say so; the rest must not trip the 600 RPM default
    SPOOL_CLIENT_RPM: '1000000',
    ...env,
  });
}

export const silentLogger = pino({ level: 'silent' });

/** A connection to the tests' Redis: a cluster client when REDIS_URL names a cluster. */
export async function testRedis(): Promise<RedisClient> {
  const redis = createRedis(REDIS_URL, 'worker', 'test-admin');
  await waitForRedis(redis, REDIS_URL);
  return redis;
}

/** CLIENT LIST of the tests' Redis, of every node of a cluster, one line a connection. */
export async function clientList(): Promise<string[]> {
  const redis = await testRedis();
  try {
    const nodes = redis instanceof Cluster ? redis.nodes('all') : [redis];
    const lists = await Promise.all(nodes.map(async (node) => (await node.client('LIST')) as string));
    return lists.flatMap((list) => list.split('\n').filter(Boolean));
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under the prefix: the control slot's (`{prefix}:`) and the jobs' own (`prefix:`), on every master of a cluster. */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = createRedis(REDIS_URL, 'command', `${prefix}-cleanup`);
  await waitForRedis(redis, REDIS_URL);
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    for (const pattern of [`${prefix}:*`, `${queuePrefix(prefix)}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        // One key a command: on a cluster they are in many slots.
        await Promise.all(keys.map((key) => node.unlink(key)));
        cursor = next;
      } while (cursor !== '0');
    }
  }
  await redis.quit();
}

export interface StackOptions {
  /** where the API's and workers' logs go; silent by default */
  logger?: Logger;
  env?: Record<string, string>;
  simulator?: SimulatorOptions;
  workers?: number;
  heartbeatMs?: number;
  /** webhook attempt timeout, 15 s */
  webhookTimeoutMs?: number;
  /** the store the API and workers share, closed by its owner; default: what SPOOL_STORE_URL names, a temp SQLite file */
  store?: Store;
  /** failed calls in a row that take an upstream out, and for how long (the workers' internal option) */
  upstreamHealth?: WorkerProcessOptions['upstreamHealth'];
}

export interface Stack {
  config: Config;
  url: string;
  api: ApiServer;
  /** worker processes' parts, as main.ts wires them, each on its own connections */
  processes: WorkerProcess[];
  /** their chat workers, and any a test adds (closed with the stack) */
  workers: SpoolWorker[];
  /** one beside each chat worker, as in a worker process */
  webhooks: WebhookWorker[];
  store: Store;
  simulator: Simulator;
  simulatorUrl: string;
  close(): Promise<void>;
}

/** Simulator, API and workers in this process, on a private prefix of the real Redis. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const simulator = createSimulator(options.simulator);
  const simulatorUrl = await simulator.listen(0);
  const storeDir = mkdtempSync(join(tmpdir(), 'spool-stack-'));
  const config = testConfig({ OPENAI_BASE_URL: simulatorUrl, SPOOL_STORE_URL: `sqlite:${join(storeDir, 'spool.db')}`, SPOOL_METRICS_PORT: '0', ...options.env });
  const logger = options.logger ?? silentLogger;
  const store = options.store ?? createStore(config.storeUrl);
  const api = new ApiServer({ config, logger, heartbeatMs: options.heartbeatMs, store });
  const url = await api.listen(0, '127.0.0.1');
  const processes = Array.from({ length: options.workers ?? 1 }, () => createWorkerProcess({ config, logger, store, webhookTimeoutMs: options.webhookTimeoutMs, upstreamHealth: options.upstreamHealth }));
  await Promise.all(processes.map((worker) => worker.start()));
  const workers = processes.map((worker) => worker.chat);
  const webhooks = processes.map((worker) => worker.webhooks);
  return {
    config,
    url,
    api,
    processes,
    workers,
    webhooks,
    store,
    simulator,
    simulatorUrl,
    async close() {
      const added = workers.filter((worker) => !processes.some((owner) => owner.chat === worker));
      await Promise.all([...processes.map((worker) => worker.close()), ...added.map((worker) => worker.close())]);
      await api.close();
      if (!options.store) await store.close();
      rmSync(storeDir, { recursive: true, force: true });
      await simulator.close();
      await deletePrefix(config.prefix);
    },
  };
}

/**
 * Starts a stack before the tests of the enclosing describe block and closes it after them. The
 * object returned is that stack once the tests run (empty before: read it inside tests and hooks).
 */
export function useStack(options: StackOptions = {}): Stack {
  const stack = {} as Stack;
  beforeAll(async () => {
    Object.assign(stack, await startStack(options));
  });
  afterAll(async () => stack.close?.());
  return stack;
}
