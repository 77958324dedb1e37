import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import pino from 'pino';
import { SqliteStore } from '@spool/store';
import type { JobObject } from '@spool/contracts';
import { pruneStoreOnce } from './store-retention.js';

const DAY = 24 * 3600;
const job = (id: string, createdAt: number) => ({ id, status: 'succeeded', created_at: createdAt }) as JobObject;

describe('store retention', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const lockKey = `test-${randomUUID().slice(0, 12)}:store-prune-round`;
  afterEach(async () => {
    await redis.del(lockKey);
  });

  it('prunes what is older than SPOOL_STORE_RETENTION_DAYS, once a round however many workers try', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const now = Math.floor(Date.now() / 1000);
    await store.putJob('acme', job('job_old', now - 31 * DAY));
    await store.putJob('acme', job('job_recent', now - 29 * DAY));
    const options = { store, redis, lockKey, retentionDays: 30, logger: pino({ level: 'silent' }) };

    const rounds = await Promise.all([pruneStoreOnce(options), pruneStoreOnce(options)]);
    expect(rounds.filter((round) => round === null)).toHaveLength(1);
    expect(rounds.find((round) => round !== null)).toEqual({ jobs: 1, usage: 0, sessions: 0 });
    expect(await store.getJob('job_old', 'acme')).toBeNull();
    expect(await store.getJob('job_recent', 'acme')).not.toBeNull();
    await store.close();
  });

  afterAll(() => redis.quit());
});
