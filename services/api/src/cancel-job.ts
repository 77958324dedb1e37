import { ApiError, isTerminal, type JobObject } from '@spool/contracts';
import { streamedText } from '@spool/stream';
import { countTokens } from '@spool/llm';
import type { JobFields } from '@spool/jobs';
import type { AppDeps } from './deps.js';

/**
 * Ends a job as cancelled, keeping what it streamed as `partial`, and tells whichever worker
 * holds it to abort the upstream request. The outcome is written only if the log has not moved
 * since it was read, so `partial` is exactly the deltas before `done`.
 */
export async function cancelJob(deps: AppDeps, jobId: string, initial: JobFields): Promise<JobObject> {
  let fields: JobFields | null = initial;
  for (let tries = 0; tries < 50 && fields && !isTerminal(fields.status); tries++) {
    // The log first, then the record: every change to the record appends to the log, so a record
    // newer than the log as read makes the finish below refuse, and the loop reads both again.
    const events = await deps.log.readAfter(jobId, 0);
    fields = await deps.jobs.get(jobId);
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
      return finished.job;
    }
  }
  throw ApiError.conflict('job_ended', 'The job has already ended');
}
