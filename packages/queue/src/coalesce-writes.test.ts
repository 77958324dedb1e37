import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedis, readsDuring } from '../../../test/support/redis-server.js';
import { coalesceEveryWrite, coalesceWrites } from './coalesce-writes.js';
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

  it('coalesceEveryWrite: the commands of one turn leave in one write without a call before each, pipelines too', async () => {
    const shared = createRedis(server.url, 'command', 'test-every');
    await waitForRedis(shared, server.url);
    coalesceEveryWrite(shared);
    coalesceEveryWrite(shared);
    try {
      let replies: unknown[] = [];
      const coalesced = await readsDuring(admin, async () => {
        replies = await Promise.all([shared.incr('every'), shared.pipeline().incr('every').get('every').exec(), shared.get('every')]);
      });
      expect(replies).toEqual([1, [[null, 2], [null, '2']], '2']);
      expect(coalesced).toBe(1);
      expect((shared as Redis).stream.writableCorked).toBe(0);
    } finally {
      await shared.quit();
    }
  });

  it('holds nothing once the turn is over', async () => {
    coalesceWrites(redis);
    expect(redis.stream.writableCorked).toBe(1);
    expect(await redis.get(key)).toBe('2');
    expect(redis.stream.writableCorked).toBe(0);
  });
});
