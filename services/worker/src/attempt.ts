import { randomUUID } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { AttemptLogEntry, JobError, JobResult } from '@spool/contracts';
import { parseJobRecord, type JobFields, type JobRecord, type JobRepository, type Outcome } from '@spool/jobs';
import { countTokens, type UpstreamError } from '@spool/llm';
import type { ChatJobData } from '@spool/queue';
import { encodeEvent } from '@spool/stream';
import type { AttemptMetrics } from './attempt-metrics.js';
import { DeltaWriter } from './delta-writer.js';
import { FailoverError } from './errors.js';
import type { FlushSchedule } from './flush-clock.js';
import type { UpstreamCall } from './upstream-call.js';
import type { JobSpend } from './job-spend.js';

/**
 * One attempt of a chat job: the job's owner from its START on, and every way it can leave the
 * job (attempt-rules.ts says which one when). Each write is guarded by the owner token: one that
 * finds the job no longer this attempt's does nothing.
 */
export class Attempt {
  readonly jobId: string;
  readonly logger: Logger;
  /** this attempt's upstream calls, for the job's `attempt_log` */
  private calls: readonly UpstreamCall[] = [];

  private constructor(
    private readonly jobs: JobRepository,
    private readonly bullJob: Job<ChatJobData>,
    private readonly token: string | undefined,
    private readonly owner: string,
    /** this attempt's number, as START counted it */
    readonly number: number,
    /** the job's log length after START */
    readonly eventCount: number,
    /** the job's hash as START found it, for `finish` */
    private readonly fields: JobFields,
    /** that hash's record */
    readonly record: JobRecord,
    logger: Logger,
    readonly measure: AttemptMetrics,
    private readonly spend?: JobSpend,
  ) {
    this.jobId = bullJob.data.jobId;
    this.logger = logger.child({ job_id: this.jobId, attempt: number });
  }

  /**
   * Takes the job as a new owner; null when the job already ended (cancelled before it ran) or
   * has no record. `spend`, the job's budget meter, learns whose job it is.
   */
  static async start(jobs: JobRepository, bullJob: Job<ChatJobData>, token: string | undefined, logger: Logger, measure: AttemptMetrics, spend?: JobSpend): Promise<Attempt | null> {
    const jobId = bullJob.data.jobId;
    const owner = randomUUID();
    const started = await jobs.start(jobId, owner);
    // The API writes the record before the queue entry, on one connection: an entry without a
    // record is one the API took back (a refused quota, a batch rolled back), or data Redis lost.
    if (started.state === 'missing') logger.warn({ job_id: jobId }, 'queue entry without a job record: dropped');
    if (started.state !== 'started') return null;
    // The request a queue entry carries (BullMQ parsed it already) is the hash's: not parsed twice.
    const record = parseJobRecord(started.fields, bullJob.data.request);
    spend?.started(record.tenant, started.eventCount);
    return new Attempt(jobs, bullJob, token, owner, started.attempt, started.eventCount, started.fields, record, logger, measure, spend);
  }

  /** The upstream calls this attempt makes (the array is read when the attempt leaves the job, so calls added later count). */
  logCalls(calls: readonly UpstreamCall[]): void {
    this.calls = calls;
  }

  /** The job's attempt log: earlier attempts' calls, then this one's. */
  attemptLog(): AttemptLogEntry[] {
    const seconds = (ms: number) => Math.floor(ms / 1000);
    const own = this.calls.map((call) => ({
      attempt: this.number,
      upstream: call.upstream,
      model: call.model,
      started_at: seconds(call.startedAt),
      ended_at: seconds(call.endedAt ?? Date.now()),
      outcome: call.outcome ?? 'aborted',
      error_code: call.errorCode ?? null,
    }));
    return [...this.record.attempt_log, ...own];
  }

  /** Records this attempt's calls before the job is handed back (an end records them itself). */
  private async saveCalls(): Promise<void> {
    if (this.calls.length) await this.jobs.recordAttempts(this.jobId, this.owner, this.attemptLog());
  }

  /** Writes this attempt's deltas to the job's log; `onFailure` when a write fails (or finds the job lost). */
  deltaWriter(onFailure: (error: Error) => void, clock: FlushSchedule): DeltaWriter {
    return new DeltaWriter(this.jobs, this.jobId, this.owner, onFailure, clock);
  }

  /** Tells readers the reply starts over (`on_interrupt: restart`); false when the job is no longer ours. */
  async restart(reason = 'the previous attempt was interrupted'): Promise<boolean> {
    const reset = encodeEvent('reset', { attempt: this.number, reason });
    return this.jobs.append(this.jobId, this.owner, [reset]);
  }

  /**
   * Gives the job back to run again in `delayMs`, this attempt not counted (a deferral), and
   * throws BullMQ's DelayedError so it leaves the job where it was put; `onDelayed` once it is there.
   */
  async handBack(delayMs: number, onDelayed?: () => void): Promise<void> {
    await this.saveCalls();
    if (!(await this.jobs.requeue(this.jobId, this.owner, this.number, true))) return;
    // Delayed, not waiting: BullMQ wakes no blocked worker for a prioritized job moved back to wait.
    await this.bullJob.moveToDelayed(Date.now() + delayMs, this.token);
    onDelayed?.();
    throw new DelayedError();
  }

  /**
   * Hands the job back for another, counted, attempt and rethrows `error` so BullMQ backs off;
   * with `failover` (another upstream takes the retry) BullMQ retries it at once. `onRetry` with
   * the count of attempts BullMQ's backoff is given, just before.
   */
  async retry(error: UpstreamError, failover = false, onRetry?: (attemptsMade: number) => void): Promise<void> {
    await this.saveCalls();
    if (!(await this.jobs.requeue(this.jobId, this.owner, this.number))) return;
    onRetry?.(this.bullJob.attemptsMade + 1);
    throw failover ? new FailoverError(error) : error;
  }

  /** The hash `finish` renders the job from: START's, with the cost this worker's calls added since. */
  private get finalFields(): JobFields {
    return this.spend ? { ...this.fields, ...this.spend.jobFields } : this.fields;
  }

  /** Ends the job with `result`; `origin` when the result came from the cache or an identical job's call (merged-jobs.ts). */
  async succeed(result: JobResult, origin: Pick<Outcome, 'cached' | 'mergedWith'> = {}): Promise<void> {
    const finished = await this.jobs.finish(this.jobId, this.finalFields, { status: 'succeeded', result, attemptLog: this.attemptLog(), ...origin }, { owner: this.owner });
    if (finished.state === 'finished') this.measure.succeeded(result, this.record, !origin.cached && !origin.mergedWith);
    this.logger.info({ finish_reason: result.finish_reason, completion_tokens: result.usage.completion_tokens }, 'job succeeded');
  }

  /** Ends the job as failed, keeping `text` (everything streamed so far) as its partial reply. */
  async fail(error: JobError, text: string, upstreamStatus?: number): Promise<void> {
    const partial = text ? { content: text, completion_tokens: countTokens(text) } : null;
    const finished = await this.jobs.finish(this.jobId, this.finalFields, { status: 'failed', error, partial, upstreamStatus, attemptLog: this.attemptLog() }, { owner: this.owner });
    if (finished.state === 'finished') this.measure.failed();
  }
}
