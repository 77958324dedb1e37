import { Counter, type Registry } from 'prom-client';
import { withTimeout } from '@spool/contracts';

/** The fleet's counts as the scripts that end jobs keep them in Redis (`readFleetCounts` of @spool/jobs). */
export interface FleetCountsSnapshot {
  jobs: { status: string; count: number }[];
  tokens: { tenant: string; kind: string; count: number }[];
}

export interface FleetMetricsOptions {
  /** a scrape gives up on Redis after this long and shows no fleet figures; default 2000 ms */
  timeoutMs?: number;
}

export const FLEET_JOBS = 'spool_fleet_jobs_total';
export const FLEET_TOKENS = 'spool_fleet_tokens_total';

/**
 * Adds the fleet's figures to `registry`, read by `read` once per scrape: `spool_fleet_jobs_total{status}`
 * and `spool_fleet_tokens_total{tenant,kind}`, counted by every worker in Redis, so one scrape of
 * any API process shows what the whole fleet did (each API process shows the same figure: aggregate with `max`).
 * Registering twice on one registry adds nothing.
 */
export function registerFleetMetrics(registry: Registry, read: () => Promise<FleetCountsSnapshot>, options: FleetMetricsOptions = {}): void {
  if (registry.getSingleMetric(FLEET_JOBS)) return;
  const timeoutMs = options.timeoutMs ?? 2000;
  // Both counters collect in the same scrape (prom-client collects in parallel): one read serves both.
  let reading: Promise<FleetCountsSnapshot | null> | null = null;
  const snapshot = () => {
    reading ??= withTimeout(read(), timeoutMs)
      .catch(() => null)
      .finally(() => {
        reading = null;
      });
    return reading;
  };
  new Counter({
    name: FLEET_JOBS,
    help: 'Jobs ended by every worker of the fleet, by final status, read from Redis at scrape time',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await snapshot();
      this.reset();
      for (const { status, count } of counts?.jobs ?? []) this.inc({ status }, count);
    },
  });
  new Counter({
    name: FLEET_TOKENS,
    help: 'Tokens of jobs ended by every worker of the fleet, by tenant and kind (prompt, completion), read from Redis at scrape time',
    labelNames: ['tenant', 'kind'],
    registers: [registry],
    async collect() {
      const counts = await snapshot();
      this.reset();
      for (const { tenant, kind, count } of counts?.tokens ?? []) this.inc({ tenant, kind }, count);
    },
  });
}
