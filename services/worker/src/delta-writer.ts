import { encodeEvent } from '@spool/stream';
import type { JobRepository, StreamEnd } from '@spool/jobs';
import type { FlushSchedule } from './flush-clock.js';
import { WorkerError } from './errors.js';

/** The attempt no longer owns the job: it was cancelled, or another worker took it over. */
export class LostOwnershipError extends WorkerError {
  constructor(jobId: string) {
    super('lost_ownership', `job ${jobId} is no longer held by this attempt`);
  }
}

/**
 * Writes an attempt's deltas to the job's log, coalesced: the first delta goes out at once
 * (time to first token is what users feel), later ones at the next tick of the process's
 * `FlushClock` (80 ms: a few tokens of a typical stream, too short for a reader to notice),
 * and never two writes in flight, so a fast stream costs a few Redis calls a second, not one
 * a token, and the writes of all streams share a pipeline.
 */
export class DeltaWriter {
  /** everything pushed by this attempt */
  text = '';
  private pending = '';
  /** the reply's end, to go out with the last deltas */
  private streamEnd: StreamEnd | null = null;
  private inFlight: Promise<void> | null = null;
  private cancelScheduled: (() => void) | null = null;
  private lastWriteAt = 0;
  private failure: Error | null = null;

  constructor(
    private readonly jobs: JobRepository,
    private readonly jobId: string,
    private readonly owner: string,
    private readonly onFailure: (error: Error) => void,
    private readonly clock: FlushSchedule,
  ) {}

  get lostOwnership(): boolean {
    return this.failure instanceof LostOwnershipError;
  }

  push(text: string): void {
    this.text += text;
    this.pending += text;
    this.schedule();
  }

  /** Resolves when every pushed delta is in the log; throws if one could not be written. */
  async flush(): Promise<void> {
    this.cancelScheduled?.();
    this.cancelScheduled = null;
    while (!this.failure && (this.inFlight || this.pending || this.streamEnd)) {
      if (this.inFlight) await this.inFlight;
      else this.write();
    }
    if (this.failure) throw this.failure;
  }

  /** Like `flush`, and the last write also records how the reply ended (`JobRepository.append`). */
  async end(streamEnd: StreamEnd): Promise<void> {
    this.streamEnd = streamEnd;
    await this.flush();
  }

  private schedule(): void {
    if (this.inFlight || this.cancelScheduled || this.failure) return;
    if (Date.now() - this.lastWriteAt >= this.clock.windowMs) this.write();
    else this.cancelScheduled = this.clock.schedule(() => {
      this.cancelScheduled = null;
      this.write();
    });
  }

  private write(): void {
    if ((!this.pending && !this.streamEnd) || this.failure || this.inFlight) return;
    const entries = this.pending ? [encodeEvent('delta', { content: this.pending })] : [];
    const streamEnd = this.streamEnd ?? undefined;
    this.pending = '';
    this.streamEnd = null;
    this.lastWriteAt = Date.now();
    this.inFlight = this.jobs
      .append(this.jobId, this.owner, entries, streamEnd)
      .then((written) => {
        if (!written) this.fail(new LostOwnershipError(this.jobId));
      })
      .catch((error: Error) => this.fail(error))
      .finally(() => {
        this.inFlight = null;
        if (this.pending) this.schedule();
      });
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.onFailure(error);
  }
}
