import type { JobObject } from '@spool/contracts';
import { defineCommands, type Keys, type RedisClient } from '@spool/queue';
import { OUTBOX_COMMANDS, type OutboxCommands } from './commands.js';
import { parseJobRecord, renderJob, type JobRecord } from './job-record.js';

/** What happens once a job has ended: keep its record, extend its session, call its webhook... */
export type JobEndedHandler = (job: JobObject, record: JobRecord) => Promise<void>;

export interface OutboxOptions {
  /** a claim older than this is presumed dead and handed to another drainer */
  reclaimAfterMs?: number;
  /**
   * entries handled at once, default 32: a drain one at a time is bound by round trips, and a
   * busy worker's round trips are slow. Entries of one session still go in the order they ended.
   */
  concurrency?: number;
  onError?: (error: unknown, jobId: string) => void;
}

/**
 * Drains the outbox the finish script fills: every ended job's side effects run at least once,
 * even when the process that ended it died a moment later. Handlers must be idempotent.
 * Reliable-queue pattern: move to a processing list (up to `concurrency` at a time, BLMOVE when
 * idle), handle, LREM; stale claims go back.
 */
export class JobOutbox {
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly handlers: JobEndedHandler[] = [];
  private readonly steps: ((jobId: string) => Promise<void>)[] = [];
  private readonly reclaimAfterMs: number;
  private readonly concurrency: number;
  /** the last handling of each session with entries in flight */
  private readonly sessionChains = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: RedisClient,
    /** a connection of its own: BLMOVE blocks it */
    private readonly blocking: RedisClient,
    private readonly keys: Keys,
    private readonly options: OutboxOptions = {},
  ) {
    this.reclaimAfterMs = options.reclaimAfterMs ?? 60_000;
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    defineCommands(redis, OUTBOX_COMMANDS);
  }

  use(handler: JobEndedHandler): this {
    this.handlers.push(handler);
    return this;
  }

  /** Runs `step` on each ended job before its record is read, so that the handlers see what it wrote. Must be idempotent. */
  before(step: (jobId: string) => Promise<void>): this {
    this.steps.push(step);
    return this;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  private get commands(): OutboxCommands {
    return this.redis as RedisClient & OutboxCommands;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Handles one entry now (tests, and the drain loop). */
  async handle(jobId: string): Promise<void> {
    for (const step of this.steps) await step(jobId);
    const fields = await this.redis.hgetall(this.keys.job(jobId));
    if (!fields.status) return;
    const record = parseJobRecord(fields);
    const job = renderJob(jobId, record);
    const run = async () => {
      for (const handler of this.handlers) await handler(job, record);
    };
    const session = record.session_id;
    if (!session) return run();
    // Entries are read in the order their jobs ended; a session's turns are appended in that order.
    const current = (this.sessionChains.get(session) ?? Promise.resolve()).catch(() => undefined).then(run);
    this.sessionChains.set(session, current);
    try {
      await current;
    } finally {
      if (this.sessionChains.get(session) === current) this.sessionChains.delete(session);
    }
  }

  private async run(): Promise<void> {
    let lastReclaim = 0;
    const inFlight = new Set<Promise<void>>();
    while (this.running) {
      try {
        if (Date.now() - lastReclaim > this.reclaimAfterMs / 2) {
          lastReclaim = Date.now();
          await this.reclaim();
        }
        const free = this.concurrency - inFlight.size;
        if (free === 0) {
          await Promise.race(inFlight);
          continue;
        }
        let claimed = await this.commands.spoolOutboxClaim(this.keys.outbox(), this.keys.outboxProcessing(), this.keys.outboxClaims(), free, Date.now());
        if (claimed.length === 0) {
          if (inFlight.size > 0) {
            await Promise.race([...inFlight, new Promise((resolve) => setTimeout(resolve, 50))]);
            continue;
          }
          const jobId = await this.blocking.blmove(this.keys.outbox(), this.keys.outboxProcessing(), 'RIGHT', 'LEFT', 1);
          if (!jobId) continue;
          await this.redis.hset(this.keys.outboxClaims(), jobId, Date.now());
          claimed = [jobId];
        }
        for (const jobId of claimed) {
          const task: Promise<void> = this.process(jobId).finally(() => inFlight.delete(task));
          inFlight.add(task);
        }
      } catch (error) {
        if (!this.running) break;
        this.options.onError?.(error, '');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    await Promise.all(inFlight);
  }

  private async process(jobId: string): Promise<void> {
    try {
      await this.handle(jobId);
      await this.commands.spoolOutboxAck(this.keys.outboxProcessing(), this.keys.outboxClaims(), jobId);
    } catch (error) {
      this.options.onError?.(error, jobId); // left claimed: reclaimed and retried later
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
