import type { JobEvent, JobResult } from '@spool/contracts';
import { isTerminal } from '@spool/contracts';
import { parseJobRecord, type JobCache, type JobRepository, type Outcome, type ResponseCache } from '@spool/jobs';
import { eventData, streamedText, type EventHub, type EventLog } from '@spool/stream';
import type { Attempt } from './attempt.js';
import { FRESH_EVENT_COUNT } from './attempt-rules.js';
import { ABORT_SHUTDOWN } from './chat-processor.js';
import { LostOwnershipError } from './delta-writer.js';
import type { FlushSchedule } from './flush-clock.js';
import { TextMirror } from './text-mirror.js';

export interface MergedJobsDeps {
  jobs: JobRepository;
  log: EventLog;
  /** the worker's own fan-out of job events (a subscriber connection of its own) */
  hub: EventHub;
  cache: ResponseCache;
  clock: FlushSchedule;
  /** how often a follower checks that the job it follows still exists, ms; default 5000 */
  checkEveryMs?: number;
}

/** How an attempt of a cache-opted job came out of joining: ended (cached, merged, or no longer its own), or on to call upstream from `text`. */
export type Joined = { ended: true } | { ended: false; text: string };

/** How following a leader ended. */
type Followed =
  | { kind: 'succeeded'; result: JobResult }
  /** it failed, was cancelled or is gone: someone else calls upstream */
  | { kind: 'gone' }
  /** its text cannot be this job's (this job may not start over) */
  | { kind: 'diverged' }
  /** this attempt was aborted, or lost its job */
  | { kind: 'stopped' };

/** Events a listener hands over, taken one at a time. */
class EventInbox {
  private readonly events: JobEvent[] = [];
  private wake: (() => void) | null = null;

  get empty(): boolean {
    return this.events.length === 0;
  }

  readonly push = (event: JobEvent): void => {
    this.events.push(event);
    this.wake?.();
  };

  /** The next event; null when none came within `timeoutMs`, or `signal` aborted. */
  async next(signal: AbortSignal, timeoutMs: number): Promise<JobEvent | null> {
    if (this.events.length === 0 && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.wake = null;
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
    return signal.aborted ? null : (this.events.shift() ?? null);
  }
}

/**
 * The worker's side of the response cache and of merging identical requests (API.md §14). An
 * attempt of a job with `cache` first asks, in one step, whether the tenant's cache has the
 * reply, or an identical job (same tenant, request and `on_interrupt`) is queued or running:
 *
 * - a hit: the job ends at once with that result, `cached: true`, its text as deltas;
 * - a twin (the leader): the job follows the leader's event log, copying its text into its own
 *   log as it streams (its own event ids, its own owner token, so its cancel, resume and ending
 *   are its own), and ends with the leader's result when the leader succeeds. When the leader
 *   fails or is cancelled, its followers try again: one takes its place and calls upstream
 *   (continuing from the text so far), the others follow that one;
 * - neither: the job is the leader and calls upstream itself.
 */
export class MergedJobs {
  private readonly checkEveryMs: number;

  constructor(private readonly deps: MergedJobsDeps) {
    this.checkEveryMs = deps.checkEveryMs ?? 5000;
  }

  /** Takes the attempt of a cache-opted job as far as the cache and its twins can; `signal` aborts it (cancel, shutdown). */
  async join(attempt: Attempt, cache: JobCache, signal: AbortSignal): Promise<Joined> {
    const { jobId, record } = attempt;
    const text = attempt.eventCount > FRESH_EVENT_COUNT ? streamedText(await this.deps.log.readAfter(jobId, 0)) : '';
    const writer = attempt.deltaWriter(() => undefined, this.deps.clock);
    const mirror = new TextMirror(text, { writer, restart: (reason) => attempt.restart(reason) }, record.on_interrupt === 'restart');
    try {
      let former = '';
      for (;;) {
        const decision = await this.deps.cache.join(record, jobId, cache, former);
        if (decision.kind === 'lead') return await this.onItsOwn(mirror);
        if (decision.kind === 'hit') return await this.endWith(attempt, mirror, decision.result, { cached: true });
        attempt.logger.debug({ leader: decision.leader }, 'following an identical job');
        const followed = await this.follow(decision.leader, mirror, signal);
        if (followed.kind === 'succeeded') return await this.endWith(attempt, mirror, followed.result, { mergedWith: decision.leader });
        if (followed.kind === 'diverged') return await this.onItsOwn(mirror);
        if (followed.kind === 'stopped') return await this.stop(attempt, mirror, signal);
        former = decision.leader;
      }
    } catch (error) {
      if (error instanceof LostOwnershipError || mirror.lost) return { ended: true };
      throw error;
    }
  }

  /** A leader's own call succeeded: identical jobs arriving now take its result from the cache; its followers have it from its log. */
  async produced(attempt: Attempt, cache: JobCache, result: JobResult): Promise<void> {
    await this.deps.cache.ended(attempt.record, attempt.jobId, cache, result).catch((error: unknown) => {
      attempt.logger.warn({ err: error }, 'result not cached');
    });
  }

  /** The job calls upstream itself, continuing from the text it has. */
  private async onItsOwn(mirror: TextMirror): Promise<Joined> {
    await mirror.flush();
    return mirror.lost ? { ended: true } : { ended: false, text: mirror.text };
  }

  /** Ends the job with `result` once its log holds the result's text; on its own if it cannot. */
  private async endWith(attempt: Attempt, mirror: TextMirror, result: JobResult, origin: Pick<Outcome, 'cached' | 'mergedWith'>): Promise<Joined> {
    if (!(await mirror.follow(result.content, true))) return this.onItsOwn(mirror);
    if (mirror.lost) return { ended: true };
    // Its end goes with the last deltas: a worker taking the job over ends it from the log.
    await mirror.end({ finish_reason: result.finish_reason, usage: result.usage });
    await attempt.succeed(result, origin);
    return { ended: true };
  }

  /** The attempt was aborted: a cancel ended the job already; a stopping worker hands it back. */
  private async stop(attempt: Attempt, mirror: TextMirror, signal: AbortSignal): Promise<Joined> {
    await mirror.flush().catch(() => undefined);
    if (mirror.lost) return { ended: true };
    if (signal.reason === ABORT_SHUTDOWN) {
      attempt.logger.info('worker stopping; job handed back');
      await attempt.handBack(0);
    }
    return { ended: true };
  }

  /**
   * Copies the leader's text into this job's log as it streams, until the leader ends. Its log is
   * read from the start: this job's own text may be ahead of it (a leader taking over continues
   * from the text its followers have). A leader handed back to the queue (a retry, a 429, its
   * worker stopping) counts as gone: a running job takes its place, so that followers, which
   * hold worker slots, never wait on a leader that needs a slot to go on.
   */
  private async follow(leader: string, mirror: TextMirror, signal: AbortSignal): Promise<Followed> {
    const inbox = new EventInbox();
    const unwatch = await this.deps.hub.watch(leader, 0, inbox.push);
    try {
      let theirs = '';
      let queued = false;
      for (;;) {
        // Judged on its latest event only: a leader that was handed back may have started again since.
        if (queued && inbox.empty) return { kind: 'gone' };
        const event = await inbox.next(signal, this.checkEveryMs);
        if (signal.aborted || mirror.lost) return { kind: 'stopped' };
        if (!event) {
          const ended = await this.endedWithoutLog(leader);
          if (ended) return ended;
          continue;
        }
        if (event.event === 'done') {
          const job = eventData(event, 'done')!;
          return job.status === 'succeeded' && job.result ? { kind: 'succeeded', result: job.result } : { kind: 'gone' };
        }
        if (event.event === 'status') {
          queued = eventData(event, 'status')!.status === 'queued';
          continue;
        }
        if (event.event === 'delta') theirs += eventData(event, 'delta')!.content;
        else if (event.event === 'reset') theirs = '';
        if (!(await mirror.follow(theirs, false))) return { kind: 'diverged' };
      }
    } finally {
      unwatch();
    }
  }

  /** A leader whose record is gone, or ended with no log left to say so: what its end means here; null while it runs. */
  private async endedWithoutLog(leader: string): Promise<Followed | null> {
    const fields = await this.deps.jobs.get(leader);
    if (!fields) return { kind: 'gone' };
    if (!isTerminal(fields.status)) return null;
    const record = parseJobRecord(fields);
    return record.status === 'succeeded' && record.result ? { kind: 'succeeded', result: record.result } : { kind: 'gone' };
  }
}
