import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedis, readsDuring } from '../../../test/support/redis-server.js';
import { coalesceWrites } from './coalesce-writes.js';
import { createRedis, waitForRedis, type Redis } from './redis.js';

describe('coalesceWrites', () => {
  const key = 'counter';
  // A server of its own: it counts the reads it makes, and no other client's may count.
  let server: PrivateRedis;
  let redis: Redis;
  let admin: Redis;

  beforeAll(async () => {
    server = await PrivateRedis.start();
    redis = createRedis(server.url, 'command', 'test-coalesce') as Redis;
    admin = createRedis(server.url, 'command', 'test-admin') as Redis;
    await Promise.all([waitForRedis(redis, server.url), waitForRedis(admin, server.url)]);
  });
  afterAll(async () => {
    await redis?.quit();
    await admin?.quit();
    await server?.stop();
  });

  it('sends the commands of one turn of the event loop in one write, in order', async () => {
    let replies: unknown[] = [];
    const coalesced = await readsDuring(admin, async () => {
      coalesceWrites(redis);
      coalesceWrites(redis);
      replies = await Promise.all([redis.incr(key), redis.incr(key), redis.get(key)]);
    });
    expect(replies).toEqual([1, 2, '2']);
    expect(coalesced).toBe(1);
  });

  it('holds nothing once the turn is over', async () => {
    coalesceWrites(redis);
    expect(redis.stream.writableCorked).toBe(1);
    expect(await redis.get(key)).toBe('2');
    expect(redis.stream.writableCorked).toBe(0);
  });
});
