import { ApiError, isTerminal, type JobObject } from '@spool/contracts';
import { streamedText } from '@spool/stream';
import { countTokens } from '@spool/llm';
import type { JobFields } from '@spool/jobs';
import type { AppDeps } from './deps.js';

/**
 * Ends a job as cancelled, keeping what it streamed as `partial`, and tells whichever worker
 * holds it to abort the upstream request. The record and the log are read in one step, and the
 * outcome is written only if the log has not moved since (every change to the record appends to
 * it), so the answer is the record as it ended and `partial` is exactly the deltas before `done`.
 * `initial`, the caller's read, only spares the work for a job already ended.
 */
export async function cancelJob(deps: AppDeps, jobId: string, initial: JobFields): Promise<JobObject> {
  let fields: JobFields | null = initial;
  for (let tries = 0; tries < 50 && fields && !isTerminal(fields.status); tries++) {
    const { events, fields: current } = await deps.jobs.snapshot(jobId);
    fields = current;
    if (!fields || isTerminal(fields.status)) break;
    const text = streamedText(events);
    const outcome = {
      status: 'cancelled' as const,
      error: { code: 'cancelled', message: 'The job was cancelled' },
      partial: text ? { content: text, completion_tokens: countTokens(text) } : null,
    };
    const finished = await deps.jobs.finish(jobId, fields, outcome, { expectedEventCount: events.length });
    if (finished.state === 'finished') {
      await deps.redis.publish(deps.keys.cancelChannel(), jobId);
      await deps.queue.remove(jobId).catch(() => 0); // a job a worker holds is skipped when it starts
      // A released job that no worker had started freed its slot: the next one in line goes.
      void deps.scheduler.dispatch().catch(() => undefined);
      return finished.job;
    }
  }
  throw ApiError.conflict('job_ended', 'The job has already ended');
}
