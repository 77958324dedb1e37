import type { Logger } from 'pino';
import type { RedisClient } from '@spool/queue';
import type { PruneResult, Store } from '@spool/store';

export interface StoreRetentionOptions {
  store: Pick<Store, 'prune'>;
  redis: RedisClient;
  /** the key whose holder prunes this round: one worker of the fleet per interval */
  lockKey: string;
  /** SPOOL_STORE_RETENTION_DAYS; 0 keeps everything */
  retentionDays: number;
  logger: Logger;
  /** how often the fleet prunes; default 1 h */
  intervalMs?: number;
}

const DAY_SECONDS = 24 * 3600;

/**
 * Prunes the store now and then every interval. Every worker runs it; the first to take the
 * round's key (SET NX, expiring with the round) does the work, so the fleet prunes once per round.
 * Resolves with what this worker pruned, or null when another worker had the round.
 */
export async function pruneStoreOnce(options: StoreRetentionOptions): Promise<PruneResult | null> {
  const intervalMs = options.intervalMs ?? 3600_000;
  if ((await options.redis.set(options.lockKey, '1', 'PX', intervalMs, 'NX')) !== 'OK') return null;
  const before = Math.floor(Date.now() / 1000) - options.retentionDays * DAY_SECONDS;
  return options.store.prune(before);
}

/** Starts the rounds; `stop` ends them (a round in progress finishes on its own). Nothing when retention is 0. */
export function startStoreRetention(options: StoreRetentionOptions): { stop(): void } {
  if (options.retentionDays === 0) return { stop: () => undefined };
  const round = () =>
    pruneStoreOnce(options).then(
      (pruned) => {
        if (pruned && pruned.jobs + pruned.usage + pruned.sessions > 0) options.logger.info({ pruned, retention_days: options.retentionDays }, 'pruned the store');
      },
      (error: unknown) => options.logger.warn({ err: error }, 'store pruning failed; the next round tries again'),
    );
  void round();
  const timer = setInterval(() => void round(), options.intervalMs ?? 3600_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
