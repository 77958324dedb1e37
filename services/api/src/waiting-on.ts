import type { JobObject } from '@spool/contracts';
import { readTenantSpend, toNanoUsd } from '@spool/jobs';
import type { AppDeps } from './deps.js';

/**
 * What holds a queued job now (API.md §12): its tenant's budget when what is spent and reserved
 * this month leaves nothing, else what the fair scheduler says (capacity, the tenant's own
 * limits, the upstream's rate).
 */
export async function waitingOn(deps: Pick<AppDeps, 'config' | 'redis' | 'keys' | 'scheduler'>, tenant: string, jobId: string): Promise<NonNullable<JobObject['waiting_on']>> {
  const budgetUsd = deps.config.tenants.get(tenant)?.budgetUsd;
  if (budgetUsd !== undefined) {
    const spend = await readTenantSpend(deps.redis, deps.keys, tenant);
    if (spend && spend.spentNanoUsd + spend.reservedNanoUsd >= toNanoUsd(budgetUsd)) return 'budget';
  }
  return deps.scheduler.waitingOn(tenant, jobId);
}
