import { defineCommands, type Keys, type RedisClient } from '@spool/queue';

/** commands/take-slot.lua: a slot of the tenant's, or 0 when all are held (exported for its test). */
export const SLOT_COMMANDS = { spoolWebhookSlotTake: { numberOfKeys: 1, script: new URL('./commands/take-slot.lua', import.meta.url) } };

type WithTake = RedisClient & { spoolWebhookSlotTake(key: string, holder: string, leaseMs: number, perTenant: number): Promise<number> };

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
    redis: RedisClient,
    private readonly keys: Keys,
    private readonly options: TenantSlotsOptions,
  ) {
    defineCommands(redis, SLOT_COMMANDS);
    this.redis = redis as WithTake;
  }

  async take(tenant: string, holder: string): Promise<boolean> {
    return (await this.redis.spoolWebhookSlotTake(this.keys.webhookSlots(tenant), holder, Math.ceil(this.options.leaseMs), this.options.perTenant)) === 1;
  }

  async release(tenant: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.webhookSlots(tenant), holder);
  }
}
