import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { withTimeout } from '@spool/contracts';

/** What the queue-depth gauge reads at scrape time; a BullMQ `Queue` is one. */
export interface QueueCountsSource {
  readonly name: string;
  getJobCounts(...states: QueueState[]): Promise<Record<string, number>>;
}

export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** An upstream's state for the gauges, read from Redis at scrape time (the same figure on every process). */
export interface UpstreamGaugeReading {
  name: string;
  /** not paused and not taken out */
  available: boolean;
  /** the last `x-ratelimit-remaining-requests` / `-tokens` it sent; null: none seen */
  remainingRequests: number | null;
  remainingTokens: number | null;
}

export interface MetricsOptions {
  /** the `service` label on every series (`api`, `worker`); none when omitted */
  service?: string;
  /** queues whose depth is read from Redis at each scrape (the same figure on every process: aggregate with `max`) */
  queues?: QueueCountsSource[];
  /** jobs waiting in their tenants' lines, before the queue (the fair scheduler): `state="scheduled"` of the chat queue */
  scheduled?: () => Promise<number>;
  /** live SSE watchers of this process */
  watchers?: () => number;
  /** process and Node.js metrics (`spool_process_*`, `spool_nodejs_*`); default true */
  defaultMetrics?: boolean;
  /** a scrape gives up on Redis after this long and reports no queue depth; default 2000 ms */
  queueTimeoutMs?: number;
  /** each upstream's state, read at scrape time for `spool_upstream_available` and `spool_upstream_ratelimit_remaining` */
  upstreams?: () => Promise<UpstreamGaugeReading[]>;
}

/** Every metric of one process, and the registry that holds them. Counters are per process; Prometheus sums them. */
export interface Metrics {
  registry: Registry;
  /** spool_queue_jobs{queue,state}: jobs in each BullMQ state, read from Redis at scrape time */
  queueJobs: Gauge<'queue' | 'state'>;
  /** spool_job_duration_seconds{status}: submission to end, for jobs a worker ended */
  jobDuration: Histogram<'status'>;
  /** spool_job_time_to_first_token_seconds: submission to the first streamed text */
  timeToFirstToken: Histogram;
  /** spool_upstream_request_duration_seconds{status}: one whole upstream call, streaming included */
  upstreamDuration: Histogram<'status'>;
  /** spool_upstream_requests_total{upstream,status}: upstream calls by upstream and HTTP status, or `timeout`, `aborted`, `error` */
  upstreamRequests: Counter<'upstream' | 'status'>;
  /** spool_job_retries_total{code}: attempts that failed and were retried with backoff */
  retries: Counter<'code'>;
  /** spool_upstream_rate_limited_total: upstream 429s (rate, not quota), each pausing its upstream */
  upstreamRateLimited: Counter;
  /** spool_upstream_paused_seconds_total: upstream pause asked for by upstream 429s */
  upstreamPausedSeconds: Counter;
  /** spool_tokens_total{tenant,model,type}: tokens of succeeded jobs, `type` prompt or completion */
  tokens: Counter<'tenant' | 'model' | 'type'>;
  /**
   * spool_webhook_deliveries_total{outcome}: webhook delivery attempts by outcome, one `inc` per
   * attempt: `delivered` (2xx), `retrying` (an answer or no answer that will be retried),
   * `exhausted` (the last attempt failed), `gone` (410, stopped).
   */
  webhookDeliveries: Counter<'outcome'>;
  /** spool_upstream_available{upstream}: 1 when the upstream may take calls (not paused, not out), read from Redis at scrape time */
  upstreamAvailable: Gauge<'upstream'>;
  /** spool_upstream_ratelimit_remaining{upstream,kind}: the last `x-ratelimit-remaining-{requests,tokens}` it sent, read from Redis at scrape time */
  upstreamRateLimitRemaining: Gauge<'upstream' | 'kind'>;
  /** spool_sse_watchers: SSE clients this process is streaming to */
  sseWatchers: Gauge;
  /** spool_http_requests_total{method,route,status} */
  httpRequests: Counter<'method' | 'route' | 'status'>;
  /** spool_http_request_duration_seconds{method,route,status}; an SSE stream counts until it closes */
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const FIRST_TOKEN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60];

/** A fresh registry with Spool's metrics; nothing is global, so several can live in one process. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.service) registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'spool_' });
  const registers = [registry];
  const queues = options.queues ?? [];
  const queueTimeoutMs = options.queueTimeoutMs ?? 2000;
  const watchers = options.watchers;
  const upstreams = scrapeOnce(options.upstreams, queueTimeoutMs);

  return {
    registry,
    queueJobs: new Gauge({
      name: 'spool_queue_jobs',
      help: 'Jobs in each BullMQ state, read from Redis at scrape time (every process reports the same figure)',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          queues.map(async (queue) => {
            // Redis down: the scrape still answers, without queue depth.
            const counts = await withTimeout(queue.getJobCounts(...QUEUE_STATES), queueTimeoutMs).catch(() => null);
            for (const state of QUEUE_STATES) if (counts) this.set({ queue: queue.name, state }, counts[state] ?? 0);
          }),
        );
        const scheduled = options.scheduled && (await withTimeout(options.scheduled(), queueTimeoutMs).catch(() => null));
        if (typeof scheduled === 'number') this.set({ queue: 'chat', state: 'scheduled' }, scheduled);
      },
    }),
    jobDuration: new Histogram({
      name: 'spool_job_duration_seconds',
      help: 'Time from submission to the end of a job, by final status',
      labelNames: ['status'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: 'spool_job_time_to_first_token_seconds',
      help: 'Time from submission to the first streamed text of a job',
      buckets: FIRST_TOKEN_BUCKETS,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'spool_upstream_request_duration_seconds',
      help: 'Duration of one upstream chat completion call, streaming included, by status',
      labelNames: ['status'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'spool_upstream_requests_total',
      help: 'Upstream chat completion calls by upstream and HTTP status (or timeout, aborted, error when none came)',
      labelNames: ['upstream', 'status'],
      registers,
    }),
    retries: new Counter({
      name: 'spool_job_retries_total',
      help: 'Job attempts that failed and were retried with backoff, by error code',
      labelNames: ['code'],
      registers,
    }),
    upstreamRateLimited: new Counter({
      name: 'spool_upstream_rate_limited_total',
      help: 'Upstream 429 rate-limit answers; each pauses its upstream',
      registers,
    }),
    upstreamPausedSeconds: new Counter({
      name: 'spool_upstream_paused_seconds_total',
      help: 'Seconds of upstream pause asked for by upstream 429s',
      registers,
    }),
    tokens: new Counter({
      name: 'spool_tokens_total',
      help: 'Tokens of succeeded jobs by tenant, model and type (prompt or completion)',
      labelNames: ['tenant', 'model', 'type'],
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'spool_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    upstreamAvailable: new Gauge({
      name: 'spool_upstream_available',
      help: 'Whether each upstream may take calls now (1) or is paused or taken out (0), read from Redis at scrape time',
      labelNames: ['upstream'],
      registers,
      async collect() {
        this.reset();
        for (const reading of (await upstreams()) ?? []) this.set({ upstream: reading.name }, reading.available ? 1 : 0);
      },
    }),
    upstreamRateLimitRemaining: new Gauge({
      name: 'spool_upstream_ratelimit_remaining',
      help: 'The last x-ratelimit-remaining-requests/-tokens each upstream sent, by kind (requests, tokens), read from Redis at scrape time',
      labelNames: ['upstream', 'kind'],
      registers,
      async collect() {
        this.reset();
        for (const reading of (await upstreams()) ?? []) {
          if (reading.remainingRequests !== null) this.set({ upstream: reading.name, kind: 'requests' }, reading.remainingRequests);
          if (reading.remainingTokens !== null) this.set({ upstream: reading.name, kind: 'tokens' }, reading.remainingTokens);
        }
      },
    }),
    sseWatchers: new Gauge({
      name: 'spool_sse_watchers',
      help: 'SSE clients this process is streaming job events to',
      registers,
      collect() {
        if (watchers) this.set(watchers());
      },
    }),
    httpRequests: new Counter({
      name: 'spool_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'spool_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status; an SSE stream counts until it closes',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
  };
}

/**
 * One read of `source` shared by the gauges of one scrape (each collects on its own); undefined
 * when there is no source, or it failed or took longer than `timeoutMs` (the scrape still answers).
 */
function scrapeOnce<T>(source: (() => Promise<T>) | undefined, timeoutMs: number): () => Promise<T | undefined> {
  let last: { at: number; reading: Promise<T | undefined> } | undefined;
  return () => {
    if (!source) return Promise.resolve(undefined);
    if (!last || Date.now() - last.at > 1000) last = { at: Date.now(), reading: withTimeout(source(), timeoutMs).catch(() => undefined) };
    return last.reading;
  };
}
