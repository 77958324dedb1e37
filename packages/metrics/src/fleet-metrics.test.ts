import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerFleetMetrics, type FleetCountsSnapshot } from './index.js';

describe('registerFleetMetrics', () => {
  it('reads the fleet once per scrape, and shows jobs by status and tokens by tenant and kind as counters', async () => {
    let reads = 0;
    const counts: FleetCountsSnapshot = {
      jobs: [{ status: 'succeeded', count: 4 }, { status: 'failed', count: 1 }],
      tokens: [{ tenant: 'alpha', kind: 'prompt', count: 120 }, { tenant: 'alpha', kind: 'completion', count: 30 }],
    };
    const registry = new Registry();
    registerFleetMetrics(registry, async () => {
      reads++;
      return counts;
    });
    registerFleetMetrics(registry, async () => counts);
    let text = await registry.metrics();
    expect(reads).toBe(1);
    expect(text).toContain('# TYPE spool_fleet_jobs_total counter');
    expect(text).toContain('spool_fleet_jobs_total{status="succeeded"} 4');
    expect(text).toContain('spool_fleet_jobs_total{status="failed"} 1');
    expect(text).toContain('spool_fleet_tokens_total{tenant="alpha",kind="prompt"} 120');
    expect(text).toContain('spool_fleet_tokens_total{tenant="alpha",kind="completion"} 30');
    counts.jobs = [{ status: 'succeeded', count: 5 }];
    text = await registry.metrics();
    expect(reads).toBe(2);
    expect(text).toContain('spool_fleet_jobs_total{status="succeeded"} 5');
    expect(text).not.toContain('status="failed"');
  });

  it('still answers a scrape when Redis does not: without the fleet figures', async () => {
    const registry = new Registry();
    registerFleetMetrics(registry, () => new Promise(() => undefined), { timeoutMs: 50 });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE spool_fleet_jobs_total counter');
    expect(text).not.toMatch(/^spool_fleet_jobs_total\{/m);
  });
});
