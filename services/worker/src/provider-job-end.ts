import { randomUUID } from 'node:crypto';
import type { JobRepository, Outcome } from '@spool/jobs';
import { encodeEvent } from '@spool/stream';

/**
 * Ends a job with what the upstream's Batch API answered for it, through the same steps as a live
 * attempt: START (status `running`), its text as one `delta` written with the reply's end, then
 * FINISH (record, `done` event, outbox: batch counts, webhooks, the store). Safe to repeat after a
 * crash: a job already ended is left alone, and a reply already in the log is not written twice.
 * False when the job had ended (cancelled) or is gone.
 */
export async function endFromProvider(jobs: JobRepository, jobId: string, outcome: Outcome): Promise<boolean> {
  const owner = randomUUID();
  const started = await jobs.start(jobId, owner);
  if (started.state !== 'started') return false;
  const result = outcome.result;
  if (result && !started.fields.stream_end) {
    const deltas = result.content ? [encodeEvent('delta', { content: result.content })] : [];
    if (!(await jobs.append(jobId, owner, deltas, { finish_reason: result.finish_reason, usage: result.usage, model: result.model }))) return false;
  }
  return (await jobs.finish(jobId, started.fields, outcome, { owner })).state === 'finished';
}
