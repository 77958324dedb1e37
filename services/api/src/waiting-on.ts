import { servesModel } from '@spool/config';
import type { JobObject } from '@spool/contracts';
import { readTenantSpend, toNanoUsd } from '@spool/jobs';
import type { AppDeps } from './deps.js';

/**
 * What holds a queued job now (API.md §12): its tenant's budget when what is spent and reserved
 * this month leaves nothing, else what the fair scheduler says (capacity, the tenant's own
 * limits, or the rate of every upstream serving its model).
 */
export async function waitingOn(deps: Pick<AppDeps, 'config' | 'redis' | 'keys' | 'scheduler'>, tenant: string, jobId: string, model: string): Promise<NonNullable<JobObject['waiting_on']>> {
  const budgetUsd = deps.config.tenants.get(tenant)?.budgetUsd;
  if (budgetUsd !== undefined) {
    const spend = await readTenantSpend(deps.redis, deps.keys, tenant);
    if (spend && spend.spentNanoUsd + spend.reservedNanoUsd >= toNanoUsd(budgetUsd)) return 'budget';
  }
  const upstreams = deps.config.upstreams.filter((upstream) => servesModel(upstream, model)).map((upstream) => upstream.name);
  return deps.scheduler.waitingOn(tenant, jobId, upstreams);
}
