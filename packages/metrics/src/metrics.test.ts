import { describe, expect, it } from 'vitest';
import { createMetrics, serveMetrics, type QueueCountsSource } from './index.js';

const fakeQueue = (name: string, counts: Record<string, number>): QueueCountsSource => ({
  name,
  getJobCounts: async (...states) => Object.fromEntries(states.map((state) => [state, counts[state] ?? 0])),
});

describe('createMetrics', () => {
  it('gives each call its own registry, so several processes worth of metrics live side by side', async () => {
    const a = createMetrics({ service: 'api' });
    const b = createMetrics({ service: 'worker' });
    a.retries.inc({ code: 'upstream_error' });
    expect(await a.registry.getSingleMetricAsString('spool_job_retries_total')).toContain('spool_job_retries_total{code="upstream_error",service="api"} 1');
    expect(await b.registry.getSingleMetricAsString('spool_job_retries_total')).not.toContain('upstream_error');
  });

  it('names every metric spool_*, default process metrics included', async () => {
    const metrics = createMetrics();
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    expect(names).toContain('spool_process_cpu_user_seconds_total');
    expect(names).toContain('spool_webhook_deliveries_total');
    for (const name of names) expect(name).toMatch(/^spool_/);
  });

  it('reads queue depth at scrape time, every state, and watchers from their source', async () => {
    let watchers = 3;
    const counts = { waiting: 2, prioritized: 5, active: 1 };
    const metrics = createMetrics({ queues: [fakeQueue('chat', counts)], watchers: () => watchers, defaultMetrics: false });
    let text = await metrics.registry.metrics();
    expect(text).toContain('spool_queue_jobs{queue="chat",state="prioritized"} 5');
    expect(text).toContain('spool_queue_jobs{queue="chat",state="delayed"} 0');
    expect(text).toContain('spool_sse_watchers 3');
    counts.prioritized = 0;
    watchers = 0;
    text = await metrics.registry.metrics();
    expect(text).toContain('spool_queue_jobs{queue="chat",state="prioritized"} 0');
    expect(text).toContain('spool_sse_watchers 0');
  });

  it('still answers a scrape when Redis does not: without queue depth', async () => {
    const down: QueueCountsSource = { name: 'chat', getJobCounts: () => new Promise(() => undefined) };
    const failing: QueueCountsSource = { name: 'webhooks', getJobCounts: () => Promise.reject(new Error('Connection is closed')) };
    const metrics = createMetrics({ queues: [down, failing], queueTimeoutMs: 50, defaultMetrics: false });
    metrics.webhookDeliveries.inc({ outcome: 'delivered' });
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^spool_queue_jobs\{/m);
    expect(text).toContain('spool_webhook_deliveries_total{outcome="delivered"} 1');
  });
});

describe('upstream gauges', () => {
  it('reads every upstream once a scrape: available 1 or 0, and the remaining requests and tokens it last sent', async () => {
    let reads = 0;
    const metrics = createMetrics({
      defaultMetrics: false,
      upstreams: async () => {
        reads++;
        return [
          { name: 'a', available: false, remainingRequests: 0, remainingTokens: 1200 },
          { name: 'b', available: true, remainingRequests: null, remainingTokens: null },
        ];
      },
    });
    const text = await metrics.registry.metrics();
    expect(reads).toBe(1);
    expect(text).toContain('spool_upstream_available{upstream="a"} 0');
    expect(text).toContain('spool_upstream_available{upstream="b"} 1');
    expect(text).toContain('spool_upstream_ratelimit_remaining{upstream="a",kind="requests"} 0');
    expect(text).toContain('spool_upstream_ratelimit_remaining{upstream="a",kind="tokens"} 1200');
    expect(text).not.toMatch(/spool_upstream_ratelimit_remaining\{upstream="b"/);
  });

  it('still answers a scrape when the upstreams cannot be read: without them', async () => {
    const metrics = createMetrics({ defaultMetrics: false, queueTimeoutMs: 50, upstreams: () => Promise.reject(new Error('Connection is closed')) });
    metrics.upstreamRequests.inc({ upstream: 'a', status: '200' });
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^spool_upstream_available\{/m);
    expect(text).toContain('spool_upstream_requests_total{upstream="a",status="200"} 1');
  });
});

describe('serveMetrics', () => {
  it('answers GET /metrics in the Prometheus text format and 404 elsewhere', async () => {
    const metrics = createMetrics({ service: 'worker', defaultMetrics: false });
    metrics.upstreamRequests.inc({ status: '200' });
    const { server, url } = await serveMetrics(metrics.registry, 0);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await response.text()).toContain('spool_upstream_requests_total{status="200",service="worker"} 1');
      expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('rejects when the port is taken, so the caller can go on without it', async () => {
    const first = await serveMetrics(createMetrics({ defaultMetrics: false }).registry, 0);
    const port = Number(new URL(first.url).port);
    try {
      await expect(serveMetrics(createMetrics({ defaultMetrics: false }).registry, port)).rejects.toThrow(/EADDRINUSE/);
    } finally {
      first.server.close();
    }
  });
});
