import { Counter, Gauge, type Registry } from 'prom-client';
import { withTimeout } from '@spool/contracts';

/** One tenant's fleet-wide figures, read from Redis at scrape time. */
export interface TenantFigure {
  tenant: string;
  /** its spend in the current budget month, USD */
  spendUsd: number;
  running: number;
  queued: number;
}

const SPEND = 'spool_tenant_spend_usd_total';
const JOBS = 'spool_tenant_jobs';

/**
 * `spool_tenant_spend_usd_total{tenant}` (the month's spend: it starts again from 0 each month,
 * as a counter reset) and `spool_tenant_jobs{tenant,state}` (`queued`, `running`), both from
 * `read` at each scrape: every API process reports the same figures (take `max`). Redis down or
 * slower than `timeoutMs`: the scrape answers without them. Registered once per registry.
 */
export function registerTenantMetrics(registry: Registry, read: () => Promise<TenantFigure[]>, timeoutMs = 2000): void {
  if (registry.getSingleMetric(JOBS)) return;
  // Both metrics of one scrape share one read.
  let current: Promise<TenantFigure[] | null> | null = null;
  const figures = () =>
    (current ??= withTimeout(read(), timeoutMs)
      .catch(() => null)
      .finally(() => setImmediate(() => (current = null))));
  new Counter({
    name: SPEND,
    help: "Each tenant's spend upstream in the current budget month (UTC), USD, fleet-wide from Redis; resets when a month begins",
    labelNames: ['tenant'],
    registers: [registry],
    async collect() {
      const read = await figures();
      this.reset();
      for (const figure of read ?? []) this.inc({ tenant: figure.tenant }, figure.spendUsd);
    },
  });
  new Gauge({
    name: JOBS,
    help: "Each tenant's jobs queued and running now, fleet-wide from Redis",
    labelNames: ['tenant', 'state'],
    registers: [registry],
    async collect() {
      const read = await figures();
      this.reset();
      for (const figure of read ?? []) {
        this.set({ tenant: figure.tenant, state: 'queued' }, figure.queued);
        this.set({ tenant: figure.tenant, state: 'running' }, figure.running);
      }
    },
  });
}
