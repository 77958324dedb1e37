import type { Keys, RedisClient } from '@spool/queue';

/** One delivery attempt, as `GET /v1/jobs/{id}/deliveries` lists it. */
export interface DeliveryAttempt {
  attempt: number;
  /** Unix seconds when the attempt started */
  at: number;
  /** null when no answer came */
  status_code: number | null;
  /** null when delivered */
  error: string | null;
  duration_ms: number;
}

const LOG_TTL_SECONDS = 7 * 24 * 3600;

/** The attempts to deliver a job's (or batch's) webhook, oldest first. */
export class DeliveryLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async record(ownerId: string, attempt: DeliveryAttempt): Promise<void> {
    const key = this.keys.deliveries(ownerId);
    await this.redis.multi().rpush(key, JSON.stringify(attempt)).expire(key, LOG_TTL_SECONDS).exec();
  }

  async list(ownerId: string): Promise<DeliveryAttempt[]> {
    const entries = await this.redis.lrange(this.keys.deliveries(ownerId), 0, -1);
    return entries.map((entry) => JSON.parse(entry) as DeliveryAttempt);
  }
}
