import { spentUpstream, type JobEndedHandler } from '@spool/jobs';
import type { Store } from '@spool/store';

/**
 * Keeps every ended job's final object in the store, so `GET /v1/jobs/{id}` answers after Redis
 * has let the job go, and counts its tokens for its tenant. Both writes are idempotent by job id.
 */
export function recordJob(store: Store): JobEndedHandler {
  return async (job, record) => {
    await store.putJob(record.tenant, job);
    // A result from the cache or from an identical job's call cost nothing: its tokens are that job's.
    if (job.result && spentUpstream(record)) {
      const { prompt_tokens, completion_tokens } = job.result.usage;
      await store.recordUsage({ tenant: record.tenant, jobId: job.id, model: job.model, promptTokens: prompt_tokens, completionTokens: completion_tokens });
    }
  };
}
