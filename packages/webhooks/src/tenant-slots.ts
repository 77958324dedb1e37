import type { Redis } from 'ioredis';
import type { Keys } from '@spool/queue';

/**
 * KEYS[1] the tenant's slot set (holder scored by lease end, Redis time in ms).
 * ARGV: 1 holder, 2 lease ms, 3 slots per tenant. 1 when the slot is taken (or already held), else 0.
 */
const TAKE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

type WithTake = Redis & { spoolWebhookSlotTake(key: string, holder: string, leaseMs: number, perTenant: number): Promise<number> };

export interface TenantSlotsOptions {
  /** deliveries of one tenant in flight at once over all workers (SPOOL_WEBHOOK_TENANT_CONCURRENCY) */
  perTenant: number;
  /** a slot whose holder died frees itself after this long; longer than one attempt can take */
  leaseMs: number;
}

/**
 * A semaphore per tenant shared by every worker: one tenant's receiver that never answers holds
 * at most `perTenant` delivery slots, and the other tenants' webhooks keep flowing.
 */
export class TenantSlots {
  private readonly redis: WithTake;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly options: TenantSlotsOptions,
  ) {
    if (!('spoolWebhookSlotTake' in redis)) redis.defineCommand('spoolWebhookSlotTake', { numberOfKeys: 1, lua: TAKE });
    this.redis = redis as WithTake;
  }

  async take(tenant: string, holder: string): Promise<boolean> {
    return (await this.redis.spoolWebhookSlotTake(this.keys.webhookSlots(tenant), holder, Math.ceil(this.options.leaseMs), this.options.perTenant)) === 1;
  }

  async release(tenant: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.webhookSlots(tenant), holder);
  }
}
