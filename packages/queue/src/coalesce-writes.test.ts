import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { coalesceWrites } from './coalesce-writes.js';
import { createRedis, waitForRedis, type Redis } from './redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('coalesceWrites', () => {
  const key = `test-${randomUUID().slice(0, 12)}:counter`;
  let redis: Redis;

  beforeAll(async () => {
    redis = createRedis(REDIS_URL, 'command', 'test-coalesce');
    await waitForRedis(redis, REDIS_URL);
  });
  afterAll(async () => {
    await redis.unlink(key);
    await redis.quit();
  });

  it('sends the commands of one turn of the event loop in one write, in order', async () => {
    const write = vi.spyOn(redis.stream, '_write');
    const writev = vi.spyOn(redis.stream, '_writev');
    coalesceWrites(redis);
    coalesceWrites(redis);
    const replies = Promise.all([redis.incr(key), redis.incr(key), redis.get(key)]);
    expect(writev).not.toHaveBeenCalled();
    expect(await replies).toEqual([1, 2, '2']);
    expect(write).not.toHaveBeenCalled();
    expect(writev).toHaveBeenCalledTimes(1);
    write.mockRestore();
    writev.mockRestore();
  });

  it('holds nothing once the turn is over', async () => {
    coalesceWrites(redis);
    expect(redis.stream.writableCorked).toBe(1);
    expect(await redis.get(key)).toBe('2');
    expect(redis.stream.writableCorked).toBe(0);
  });
});
