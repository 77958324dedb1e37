import type { JobObject } from '@spool/contracts';
import { cachedDeltas, type NewJob } from '@spool/jobs';
import type { AppDeps } from './deps.js';

/**
 * A cache-opted job whose request the tenant's cache answers (a result less than its `ttl_s`
 * old): recorded as succeeded at once, `cached: true`, its text in its stream as `delta` events,
 * never queued and never sent upstream. Null when the cache has no such result.
 */
export async function fromCache(deps: AppDeps, job: NewJob): Promise<JobObject | null> {
  if (!job.cache) return null;
  const result = await deps.responseCache.lookup(job.tenant, job.cache);
  if (!result) return null;
  return deps.jobs.createSucceeded(job, result, cachedDeltas(result.content), { cached: true });
}
