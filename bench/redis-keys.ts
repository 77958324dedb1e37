import type { Redis } from 'ioredis';
import { queuePrefix } from '@spool/queue';

/**
 * Deletes every key of the run's prefix (nothing else matches it): jobs' own keys start with
 * `prefix`, the control slot's and the queues' with `{prefix}`.
 */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for (const pattern of [`${prefix}*`, `${queuePrefix(prefix)}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) deleted += await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return deleted;
}
