import { ApiError, JobRequest, newId, parseOrThrow, splitJobRequest, type JobObject } from '@spool/contracts';
import { chatJobOptions } from '@spool/queue';
import type { AppDeps } from './deps.js';

/** Validates a job request, records it and enqueues it; the job object as created. */
export async function submitJob(deps: AppDeps, tenant: string, body: unknown): Promise<JobObject> {
  const request = parseOrThrow(JobRequest, body);
  const { upstream, spool } = splitJobRequest(request, deps.config.defaultModel);
  if (spool.webhook) {
    throw ApiError.invalid('Webhooks are not available yet', 'webhook', 'unsupported');
  }
  const id = newId('job');
  const job = await deps.jobs.create({
    id,
    tenant,
    request: upstream,
    priority: spool.priority,
    metadata: spool.metadata,
    onInterrupt: spool.on_interrupt,
    sessionId: spool.session_id,
  });
  await deps.queue.add('chat', { jobId: id }, chatJobOptions(id, { priority: spool.priority, attempts: deps.config.maxAttempts }));
  return job;
}
