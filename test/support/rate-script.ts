import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { defineCommands } from '@spool/queue';
import { RATE_COMMANDS } from '../../services/api/src/client-rate-limit.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A connection with the per-key rate script (`spoolClientRate`, typed by `Commands`), keys under a prefix of its own that `close` deletes. */
export function rateScriptRedis<Commands>(): { prefix: string; redis: Redis & Commands; close(): Promise<void> } {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  const redis = new Redis(REDIS_URL);
  defineCommands(redis, RATE_COMMANDS);
  return {
    prefix,
    redis: redis as Redis & Commands,
    async close() {
      const found = await redis.keys(`${prefix}:*`);
      if (found.length) await redis.unlink(...found);
      await redis.quit();
    },
  };
}
