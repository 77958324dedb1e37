import type { Config } from '@spool/config';
import type { TenantUsage } from '@spool/contracts';
import { fromNanoUsd, monthStartSeconds, parseTenantSpend, queueTenantSpendRead, spendMonth, type TenantSpend } from '@spool/jobs';
import type { TenantFigure } from '@spool/metrics';
import type { AppDeps } from './deps.js';
import { OPEN_TENANT } from './auth.js';
import { fromStore } from './store-errors.js';

type Deps = Pick<AppDeps, 'config' | 'redis' | 'keys' | 'store'>;

interface Figures {
  /** null: Redis has no spend for the month (none yet, or lost) */
  spend: TenantSpend | null;
  running: number;
  queued: number;
}

/** Every tenant the configuration names; `default` alone when the API is open. */
export function knownTenants(config: Pick<Config, 'tenants'>): string[] {
  return config.tenants.size ? [...config.tenants.keys()] : [OPEN_TENANT];
}

/** Each tenant's spend in `month` and its jobs running and queued (the scheduler's sets), in one round trip. */
async function readFigures(deps: Pick<Deps, 'redis' | 'keys'>, tenants: string[], month: string): Promise<Figures[]> {
  const pipeline = deps.redis.pipeline();
  for (const tenant of tenants) {
    queueTenantSpendRead(pipeline, deps.keys, tenant, month);
    pipeline.zcard(deps.keys.tenantRunning(tenant));
    pipeline.zcard(deps.keys.tenantWaiting(tenant));
  }
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  return tenants.map((_, index) => {
    const [spend, running, queued] = replies.slice(index * 3, index * 3 + 3).map(([, value]) => value);
    return { spend: parseTenantSpend(spend as (string | null)[]), running: running as number, queued: queued as number };
  });
}

/** The tenants' usage objects; a month Redis has no spend for is read from the store. */
export async function tenantUsage(deps: Deps, tenants: string[]): Promise<TenantUsage[]> {
  const month = spendMonth();
  const figures = await readFigures(deps, tenants, month);
  return Promise.all(
    tenants.map(async (tenant, index) => {
      const { running, queued } = figures[index];
      const spend = figures[index].spend ?? (await storedSpend(deps, tenant, month));
      return {
        object: 'usage' as const,
        tenant,
        period_start: monthStartSeconds(month),
        spend_usd: fromNanoUsd(spend.spentNanoUsd),
        budget_usd: deps.config.tenants.get(tenant)?.budgetUsd ?? null,
        reserved_usd: fromNanoUsd(spend.reservedNanoUsd),
        requests: spend.requests,
        tokens: { prompt: spend.promptTokens, completion: spend.completionTokens },
        running,
        queued,
      };
    }),
  );
}

async function storedSpend(deps: Pick<Deps, 'store'>, tenant: string, month: string): Promise<TenantSpend> {
  const total = await fromStore(deps.store.spend(tenant, month));
  return { spentNanoUsd: total.costNanoUsd, reservedNanoUsd: 0, requests: total.requests, promptTokens: total.promptTokens, completionTokens: total.completionTokens };
}

/** What `/metrics` reports of each tenant, from Redis alone (a scrape never waits on the store). */
export async function tenantFigures(deps: Pick<Deps, 'config' | 'redis' | 'keys'>): Promise<TenantFigure[]> {
  const tenants = knownTenants(deps.config);
  const figures = await readFigures(deps, tenants, spendMonth());
  return tenants.map((tenant, index) => ({
    tenant,
    spendUsd: fromNanoUsd(figures[index].spend?.spentNanoUsd ?? 0),
    running: figures[index].running,
    queued: figures[index].queued,
  }));
}
