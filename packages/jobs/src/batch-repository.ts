import type { BatchMode, BatchObject, BatchStatus } from '@spool/contracts';
import { defineCommands, type Keys, type RedisClient } from '@spool/queue';
import { BATCH_COMMANDS, type BatchCommands } from './commands.js';
import { nowSeconds } from './job-record.js';

/** A batch hash as Redis holds it. */
export type BatchFields = Record<string, string>;

const BATCH_TTL_SECONDS = 7 * 24 * 3600;

export interface NewBatch {
  id: string;
  tenant: string;
  total: number;
  metadata: Record<string, string>;
  webhookUrl?: string | null;
  /** `provider`: its requests go through the upstream's Batch API; default `live` */
  mode?: BatchMode;
  /** a provider batch's upstream (its name in the configuration) */
  upstream?: string;
}

export const isBatchEnded = (status: string | undefined) => status === 'completed' || status === 'cancelled';

/** The public batch object of a batch hash. */
export function renderBatch(id: string, fields: BatchFields): BatchObject {
  return {
    id,
    object: 'batch',
    status: fields.status as BatchStatus,
    request_counts: { total: Number(fields.total), completed: Number(fields.completed ?? 0), failed: Number(fields.failed ?? 0) },
    created_at: Number(fields.created_at),
    completed_at: fields.completed_at ? Number(fields.completed_at) : null,
    metadata: fields.metadata ? (JSON.parse(fields.metadata) as Record<string, string>) : {},
    mode: fields.mode === 'provider' ? 'provider' : 'live',
    // Summed in floating point, one request at a time: rounded to a millionth of a cent.
    cost_usd: Math.round(Number(fields.cost_usd ?? 0) * 1e8) / 1e8,
  };
}

function toFields(flat: string[]): BatchFields {
  const fields: BatchFields = {};
  for (let i = 0; i < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

/**
 * A batch in Redis: its hash (status, counts), its job ids, the set of ended
 * ones and their result lines. Counts move only in `recordEnded`, once per job.
 */
export class BatchRepository {
  private readonly redis: RedisClient & BatchCommands;

  constructor(redis: RedisClient, private readonly keys: Keys) {
    defineCommands(redis, BATCH_COMMANDS);
    this.redis = redis as RedisClient & BatchCommands;
  }

  /** Records the batch; its jobs are added with `addJobs` before they are enqueued. */
  async create(batch: NewBatch): Promise<BatchObject> {
    const fields: BatchFields = {
      tenant: batch.tenant,
      status: 'in_progress',
      total: String(batch.total),
      completed: '0',
      failed: '0',
      created_at: String(nowSeconds()),
      metadata: JSON.stringify(batch.metadata),
      mode: batch.mode ?? 'live',
      cost_usd: '0',
      ...(batch.upstream && { upstream: batch.upstream }),
      ...(batch.webhookUrl && { webhook_url: batch.webhookUrl }),
    };
    await this.redis.hset(this.keys.batch(batch.id), fields);
    return renderBatch(batch.id, fields);
  }

  async addJobs(batchId: string, jobIds: string[]): Promise<void> {
    if (jobIds.length) await this.redis.rpush(this.keys.batchJobs(batchId), ...jobIds);
  }

  /** Deletes a batch that could not be submitted whole, before any of its jobs could end. */
  async remove(id: string): Promise<void> {
    await this.redis.unlink(this.keys.batch(id), this.keys.batchJobs(id), this.keys.batchEnded(id), this.keys.batchResults(id));
  }

  async get(id: string): Promise<BatchFields | null> {
    const fields = await this.redis.hgetall(this.keys.batch(id));
    return fields.status ? fields : null;
  }

  /** The batch if it exists and belongs to `tenant`; another tenant's batch is as absent as a missing one. */
  async getForTenant(id: string, tenant: string): Promise<BatchFields | null> {
    const fields = await this.get(id);
    return fields && fields.tenant === tenant ? fields : null;
  }

  /**
   * Counts one ended request, adds its cost (USD) and keeps its result line (once, however often
   * called); the batch after, or null.
   */
  async recordEnded(batchId: string, jobId: string, line: string, failed: boolean, costUsd = 0): Promise<BatchFields | null> {
    const reply = await this.redis.spoolBatchRecordEnded(
      this.keys.batch(batchId),
      this.keys.batchEnded(batchId),
      this.keys.batchResults(batchId),
      this.keys.batchJobs(batchId),
      jobId,
      line,
      failed ? '1' : '0',
      nowSeconds(),
      BATCH_TTL_SECONDS,
      costUsd,
    );
    return reply.length ? toFields(reply) : null;
  }

  /** Sets a batch's mode: a provider batch whose upstream has no Batch API runs live after all. */
  async setMode(id: string, mode: BatchMode): Promise<void> {
    await this.redis.hset(this.keys.batch(id), 'mode', mode);
  }

  /** Marks an in-progress batch `cancelling`; the status after (`completed`/`cancelled` if it had ended), null if missing. */
  async requestCancel(id: string): Promise<BatchStatus | null> {
    const status = await this.redis.spoolBatchRequestCancel(this.keys.batch(id));
    return status ? (status as BatchStatus) : null;
  }

  /** The batch's job ids, `count` from `start` (in chunks of request order). */
  async jobIds(id: string, start: number, count: number): Promise<string[]> {
    return this.redis.lrange(this.keys.batchJobs(id), start, start + count - 1);
  }

  /** Result lines (JSON, no newline) in the order requests ended, `count` from `start`. */
  async results(id: string, start: number, count: number): Promise<string[]> {
    return this.redis.lrange(this.keys.batchResults(id), start, start + count - 1);
  }
}
