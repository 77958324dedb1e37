import { spendMonth, spentUpstream, type JobEndedHandler } from '@spool/jobs';
import type { Store } from '@spool/store';

/**
 * Keeps every ended job's final object in the store, so `GET /v1/jobs/{id}` answers after Redis
 * has let the job go, counts its tokens for its tenant, and keeps what it cost in its tenant's
 * month (a month's spend lost from Redis is seeded from it). Every write is idempotent by job id.
 */
export function recordJob(store: Store): JobEndedHandler {
  return async (job, record) => {
    await store.putJob(record.tenant, job);
    // A result from the cache or from an identical job's call cost nothing: its tokens are that job's.
    if (job.result && spentUpstream(record)) {
      const { prompt_tokens, completion_tokens } = job.result.usage;
      await store.recordUsage({ tenant: record.tenant, jobId: job.id, model: job.model, promptTokens: prompt_tokens, completionTokens: completion_tokens });
    }
    if (record.billed_requests > 0 || record.cost_nusd > 0) {
      await store.recordSpend({
        tenant: record.tenant,
        jobId: job.id,
        month: record.cost_month ?? spendMonth((record.finished_at ?? record.created_at) * 1000),
        costNanoUsd: record.cost_nusd,
        requests: record.billed_requests,
        promptTokens: record.billed_prompt_tokens,
        completionTokens: record.billed_completion_tokens,
      });
    }
  };
}
