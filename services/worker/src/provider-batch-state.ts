import type { Keys, RedisClient } from '@spool/queue';

/** Where a provider batch is: its input file uploaded, its upstream batch created, then polled until it ends. */
export type ProviderBatchPhase = 'upload' | 'create' | 'poll' | 'done';

export interface ProviderBatchState {
  phase: ProviderBatchPhase;
  /** the uploaded input file */
  fileId?: string;
  /** the upstream batch, once created */
  upstreamBatchId?: string;
  /** a create was sent and its answer may not have been noted: look for the batch before creating another */
  creating: boolean;
  /** polls made so far: the next waits twice as long */
  polls: number;
  /** upstream failures in a row */
  failures: number;
  /** when the upstream batch was created (ms, this side's clock): its deadline counts from then */
  pollingSince?: number;
}

/** Kept a little longer than the batch itself (7 days). */
const STATE_TTL_SECONDS = 8 * 24 * 3600;

const FIELDS = { fileId: 'file_id', upstreamBatchId: 'upstream_batch_id', pollingSince: 'polling_since' } as const;

/**
 * The poller's state of each provider batch, in one Redis hash: what a worker that takes the
 * batch over (after a restart, or on another machine) starts from.
 */
export class ProviderBatchStates {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async get(batchId: string): Promise<ProviderBatchState> {
    const fields = await this.redis.hgetall(this.keys.providerBatch(batchId));
    return {
      phase: (fields.phase as ProviderBatchPhase | undefined) ?? 'upload',
      ...(fields.file_id && { fileId: fields.file_id }),
      ...(fields.upstream_batch_id && { upstreamBatchId: fields.upstream_batch_id }),
      creating: fields.creating === '1',
      polls: Number(fields.polls ?? 0),
      failures: Number(fields.failures ?? 0),
      ...(fields.polling_since && { pollingSince: Number(fields.polling_since) }),
    };
  }

  /** Writes `changes` and returns the state after them. */
  async update(batchId: string, state: ProviderBatchState, changes: Partial<ProviderBatchState>): Promise<ProviderBatchState> {
    const next = { ...state, ...changes };
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      const field = FIELDS[name as keyof typeof FIELDS] ?? name;
      fields[field] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    }
    const key = this.keys.providerBatch(batchId);
    await this.redis.multi().hset(key, fields).expire(key, STATE_TTL_SECONDS).exec();
    return next;
  }
}
