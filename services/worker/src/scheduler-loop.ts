import type { Logger } from 'pino';
import type { FairScheduler, Released, TenantPolicy } from '@spool/queue';

export interface SchedulerLoopOptions {
  scheduler: FairScheduler;
  logger: Logger;
  /** this worker process, as the fleet's capacity counts it */
  workerId: string;
  /** WORKER_CONCURRENCY: the slots it adds */
  slots: number;
  /** each tenant's weight and limits (SPOOL_CONFIG), written where the scheduler reads them */
  policies: Map<string, TenantPolicy>;
  /** how often it says it is alive (and dispatches, and reconciles); gone after 3 missed beats; default 5 s */
  heartbeatMs?: number;
}

/**
 * A worker's part in the fair scheduler: it counts its slots in the fleet's capacity while it
 * lives, and releases jobs when a slot frees, a job passes the upstream gate, a tenant's rate
 * refills, or a beat comes round (which also puts back jobs whose release was lost).
 * Dispatches asked for while one runs are folded into one more.
 */
export class SchedulerLoop {
  private beat: NodeJS.Timeout | undefined;
  private refill: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private passed: string[] = [];
  private stopped = false;
  private readonly heartbeatMs: number;

  readonly scheduler: FairScheduler;

  constructor(private readonly options: SchedulerLoopOptions) {
    this.scheduler = options.scheduler;
    this.heartbeatMs = options.heartbeatMs ?? 5000;
  }

  async start(): Promise<void> {
    await this.options.scheduler.applyPolicies(this.options.policies).catch((error) => this.options.logger.warn({ err: error }, 'fair scheduler: tenant settings not written'));
    await this.heartbeat();
    this.beat = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.beat.unref();
  }

  /** Releases what there is room for now; `passedGate` is a job that just got past the upstream gate. */
  kick(passedGate?: string): void {
    if (this.stopped) return;
    if (passedGate) this.passed.push(passedGate);
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.dispatchAll().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async dispatchAll(): Promise<void> {
    try {
      let released: Released;
      do {
        released = await this.options.scheduler.dispatch(this.passed.shift());
      } while (this.passed.length || released.more);
      this.wakeAt(released.retryInMs);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'fair scheduler: dispatch failed; trying again at the next beat');
    }
  }

  /**
   * A released job of `tenant` waits `delayMs` in BullMQ's delayed set (handed back, or backing
   * off): its slot goes to the next job meanwhile. Not waited for; a mark lost costs only that
   * slot until the job runs.
   */
  deferred(tenant: string, jobId: string, delayMs: number): void {
    if (this.stopped || delayMs <= 0) return;
    this.options.scheduler.defer(tenant, jobId, delayMs).then(
      (marked) => marked && this.kick(),
      (error: unknown) => this.options.logger.warn({ err: error, job_id: jobId }, 'fair scheduler: a job waiting out a delay still holds its slot'),
    );
  }

  /** A tenant held by its own rate limit is ready in `ms`: dispatch then. */
  private wakeAt(ms: number | undefined): void {
    if (ms === undefined || this.stopped) return;
    clearTimeout(this.refill);
    this.refill = setTimeout(() => this.kick(), Math.max(1, ms));
    this.refill.unref();
  }

  private async heartbeat(): Promise<void> {
    const { scheduler, workerId, slots, logger } = this.options;
    try {
      await scheduler.heartbeat(workerId, slots, this.heartbeatMs * 3);
      const lost = await scheduler.reconcile();
      if (lost) logger.warn({ jobs: lost }, 'fair scheduler: released jobs that never reached the queue were put back');
    } catch (error) {
      logger.warn({ err: error }, 'fair scheduler: heartbeat failed');
    }
    this.kick();
  }

  /** Takes this worker's slots out of the fleet's capacity (without waiting: Redis may be down). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.beat);
    clearTimeout(this.refill);
    void this.options.scheduler.heartbeat(this.options.workerId, 0, 0).catch(() => undefined);
  }
}
