import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createKeys, defineCommands } from '@spool/queue';
import { SLOT_COMMANDS, TenantSlots } from './tenant-slots.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('take-slot.lua', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  let redis: Redis & { spoolWebhookSlotTake(key: string, holder: string, leaseMs: number, perTenant: number): Promise<number> };

  beforeAll(() => {
    const connection = new Redis(REDIS_URL);
    defineCommands(connection, SLOT_COMMANDS);
    redis = connection as typeof redis;
  });
  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  it('takes up to the tenant\'s slots (1), refuses one more (0), and a holder taking again keeps its slot', async () => {
    const key = keys.webhookSlots('t-full');
    expect(await redis.spoolWebhookSlotTake(key, 'a', 60_000, 2)).toBe(1);
    expect(await redis.spoolWebhookSlotTake(key, 'b', 60_000, 2)).toBe(1);
    expect(await redis.spoolWebhookSlotTake(key, 'c', 60_000, 2)).toBe(0);
    expect(await redis.spoolWebhookSlotTake(key, 'a', 60_000, 2)).toBe(1);
    expect((await redis.zrange(key, '0', '-1')).sort()).toEqual(['a', 'b']);
    expect(await redis.pttl(key)).toBeGreaterThan(59_000);
  });

  it('frees the slot of a holder whose lease ended (Redis time in ms), so another takes it', async () => {
    const key = keys.webhookSlots('t-lease');
    await redis.zadd(key, Date.now() - 10, 'dead');
    expect(await redis.spoolWebhookSlotTake(key, 'next', 60_000, 1)).toBe(1);
    expect(await redis.zrange(key, '0', '-1')).toEqual(['next']);
    const leaseEnd = Number(await redis.zscore(key, 'next'));
    expect(leaseEnd).toBeGreaterThan(Date.now() + 59_000);
    expect(leaseEnd).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it("one tenant's full slots do not hold another's; release frees a slot", async () => {
    const slots = new TenantSlots(redis, keys, { perTenant: 1, leaseMs: 60_000 });
    expect(await slots.take('t-one', 'a')).toBe(true);
    expect(await slots.take('t-one', 'b')).toBe(false);
    expect(await slots.take('t-two', 'b')).toBe(true);
    await slots.release('t-one', 'a');
    expect(await slots.take('t-one', 'b')).toBe(true);
  });
});
