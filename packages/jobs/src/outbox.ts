import type { Redis } from 'ioredis';
import type { JobObject } from '@spool/contracts';
import type { Keys } from '@spool/queue';
import { renderJob, type JobFields } from './render-job.js';

/** What happens once a job has ended: keep its record, extend its session, call its webhook... */
export type JobEndedHandler = (job: JobObject, fields: JobFields) => Promise<void>;

export interface OutboxOptions {
  /** a claim older than this is presumed dead and handed to another drainer */
  reclaimAfterMs?: number;
  onError?: (error: unknown, jobId: string) => void;
}

/**
 * Drains the outbox the finish script fills: every ended job's side effects run at least once,
 * even when the process that ended it died a moment later. Handlers must be idempotent.
 * Reliable-queue pattern: BLMOVE to a processing list, handle, LREM; stale claims go back.
 */
export class JobOutbox {
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly handlers: JobEndedHandler[] = [];
  private readonly reclaimAfterMs: number;

  constructor(
    private readonly redis: Redis,
    /** a connection of its own: BLMOVE blocks it */
    private readonly blocking: Redis,
    private readonly keys: Keys,
    private readonly options: OutboxOptions = {},
  ) {
    this.reclaimAfterMs = options.reclaimAfterMs ?? 60_000;
  }

  use(handler: JobEndedHandler): this {
    this.handlers.push(handler);
    return this;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Handles one entry now (tests, and the drain loop). */
  async handle(jobId: string): Promise<void> {
    const fields = await this.redis.hgetall(this.keys.job(jobId));
    if (fields.status) {
      const job = renderJob(jobId, fields);
      for (const handler of this.handlers) await handler(job, fields);
    }
  }

  private async run(): Promise<void> {
    let lastReclaim = 0;
    while (this.running) {
      try {
        if (Date.now() - lastReclaim > this.reclaimAfterMs / 2) {
          lastReclaim = Date.now();
          await this.reclaim();
        }
        const jobId = await this.blocking.blmove(this.keys.outbox(), this.keys.outboxProcessing(), 'RIGHT', 'LEFT', 1);
        if (!jobId) continue;
        await this.redis.hset(this.keys.outboxClaims(), jobId, Date.now());
        try {
          await this.handle(jobId);
          await this.redis.multi().lrem(this.keys.outboxProcessing(), 1, jobId).hdel(this.keys.outboxClaims(), jobId).exec();
        } catch (error) {
          this.options.onError?.(error, jobId); // left claimed: reclaimed and retried later
        }
      } catch (error) {
        if (!this.running) break;
        this.options.onError?.(error, '');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Entries whose drainer died (or whose handler failed) go back to the outbox. */
  private async reclaim(): Promise<void> {
    const processing = await this.redis.lrange(this.keys.outboxProcessing(), 0, -1);
    if (processing.length === 0) return;
    const claims = await this.redis.hmget(this.keys.outboxClaims(), ...processing);
    const now = Date.now();
    for (let i = 0; i < processing.length; i++) {
      if (claims[i] === null) {
        // moved but not yet stamped by its drainer: start its clock now
        await this.redis.hsetnx(this.keys.outboxClaims(), processing[i], now);
        continue;
      }
      if (now - Number(claims[i]) < this.reclaimAfterMs) continue;
      const removed = await this.redis.lrem(this.keys.outboxProcessing(), 1, processing[i]);
      if (removed) await this.redis.multi().lpush(this.keys.outbox(), processing[i]).hdel(this.keys.outboxClaims(), processing[i]).exec();
    }
  }
}
