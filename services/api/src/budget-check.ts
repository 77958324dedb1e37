import { ApiError } from '@spool/contracts';
import { SPEND_FIELDS, secondsUntilMonthEnds, spendMonth, toNanoUsd } from '@spool/jobs';
import type { AppDeps } from './deps.js';

/** A tenant whose budget is spent: a 429 until the month ends (UTC), when its budget starts again. */
export function budgetExceeded(message: string, headers: Record<string, string> = {}): ApiError {
  return new ApiError(429, 'rate_limit_error', 'budget_exceeded', message, null, { 'retry-after': String(secondsUntilMonthEnds()), ...headers });
}

/**
 * Refuses a submission once the tenant's spend this month has reached its `budget_usd` (one
 * Redis read; none for a tenant without a budget). A job that gets past this and then cannot
 * reserve its worst case fails `budget_exceeded` in the worker, without calling upstream.
 */
export async function refuseWhenBudgetSpent(deps: Pick<AppDeps, 'config' | 'redis' | 'keys'>, tenant: string): Promise<void> {
  const budgetUsd = deps.config.tenants.get(tenant)?.budgetUsd;
  if (budgetUsd === undefined) return;
  const spent = await deps.redis.hget(deps.keys.tenantSpend(tenant, spendMonth()), SPEND_FIELDS.spent);
  if (Number(spent ?? 0) < toNanoUsd(budgetUsd)) return;
  throw budgetExceeded(`This month's budget of $${budgetUsd} is spent; submissions are accepted again when the month ends (UTC)`);
}
