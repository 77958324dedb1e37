/**
 * Issue 17's figure: what OpenTelemetry tracing costs `POST /v1/jobs`. Two API processes (no
 * worker) on their own prefixes, the same but for OTEL_EXPORTER_OTLP_ENDPOINT, which points the
 * traced one at a local OTLP/HTTP sink that accepts and discards (the exporter's default
 * protocol, protobuf, with its default batching). Measured as (c) is: keep-alive clients,
 * warmed, alternating slices, then one client at a time.
 * Alone: `npx tsx bench/tracing-cost.ts` (BENCH_QUICK=1: shorter bursts).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { compareEnqueue, type EnqueueResult, type EnqueueSettings } from './enqueue.js';
import { freePort, installExitHandlers, spoolEnv, startChild, waitForHttp, type Child } from './processes.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { renderTable, type Row } from './report.js';
import { benchSettings } from './settings.js';
import { ms, rate, ratio, signedMs } from './stats.js';

export interface TracingCostFigures {
  untraced: EnqueueResult;
  traced: EnqueueResult;
  /** what the sink took: proof that spans were exported while the traced side ran */
  exports: { requests: number; bytes: number };
  clients: number;
  /** traced over untraced req/s of every comparison; the figure is the median one's */
  ratios: number[];
  /** whether any comparison had a request refused or failed on either side */
  failed: boolean;
}



/** An OTLP/HTTP endpoint that reads each export, answers 200 and keeps only counts. */
async function startSink(): Promise<{ url: string; counts: TracingCostFigures['exports']; close(): Promise<void> }> {
  const counts = { requests: 0, bytes: 0 };
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (counts.bytes += chunk.length));
    request.on('end', () => {
      counts.requests++;
      response.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function benchTracingCost(options: {
  redisUrl: string;
  /** keys go under it; deleted at the end */
  prefix: string;
  settings: EnqueueSettings;
  /** OPENAI_BASE_URL for the APIs; with no worker, nothing calls it */
  upstreamUrl?: string;
  log?: (line: string) => void;
  /** untraced/traced comparisons, the figure the median one's (the saturated rate moves a few percent from one to the next on two cores); 3 */
  comparisons?: number;
}): Promise<TracingCostFigures> {
  const log = options.log ?? (() => undefined);
  const upstream = options.upstreamUrl ?? 'http://127.0.0.1:9/v1';
  const sink = await startSink();
  const children: Child[] = [];
  const redis = new Redis(options.redisUrl);
  try {
    const [plainPort, tracedPort] = [await freePort(), await freePort()];
    // With no worker to end them, three comparisons leave about 200,000 jobs queued a side: past
    // the default per-tenant quota (100,000), which would refuse the last ones.
    const quota = { SPOOL_TENANT_MAX_QUEUED: '1000000' };
    const plain = startChild({ name: 'api (untraced)', script: 'services/api/src/main.ts', env: { ...spoolEnv(options.redisUrl, `${options.prefix}-off`, plainPort, upstream), ...quota } });
    const traced = startChild({
      name: 'api (traced)',
      script: 'services/api/src/main.ts',
      env: { ...spoolEnv(options.redisUrl, `${options.prefix}-on`, tracedPort, upstream), ...quota, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url },
    });
    children.push(plain, traced);
    const urls = { untraced: `http://127.0.0.1:${plainPort}`, traced: `http://127.0.0.1:${tracedPort}` };
    // Started together on a loaded machine, an API can take longer than the usual 20 s.
    await Promise.all([waitForHttp(plain, `${urls.untraced}/healthz`, 60_000), waitForHttp(traced, `${urls.traced}/healthz`, 60_000)]);
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '[[sim tokens=20]] Say something about queues.' }] });
    log(`tracing: POST /v1/jobs with and without OTEL_EXPORTER_OTLP_ENDPOINT, ${options.settings.clients} keep-alive clients, ${options.settings.durationMs / 1000} s each`);
    const comparisons: { untraced: EnqueueResult; traced: EnqueueResult; ratio: number }[] = [];
    for (let round = 0; round < (options.comparisons ?? 3); round++) {
      const results = await compareEnqueue(
        [
          { name: 'untraced', url: `${urls.untraced}/v1/jobs` },
          { name: 'traced', url: `${urls.traced}/v1/jobs` },
        ],
        body,
        options.settings,
        (name, perSecond) => log(`tracing:   ${name}: ${rate(perSecond, 'req/s')}`),
      );
      const [untraced, traced] = [results.get('untraced')!, results.get('traced')!];
      comparisons.push({ untraced, traced, ratio: traced.requestsPerSecond / untraced.requestsPerSecond });
      log(`tracing:   comparison ${round + 1}: ${ratio(traced.requestsPerSecond / untraced.requestsPerSecond)}`);
    }
    const median = [...comparisons].sort((a, b) => a.ratio - b.ratio)[Math.floor(comparisons.length / 2)];
    // A graceful stop flushes the spans still buffered: the sink's counts are then whole.
    await Promise.all(children.map((child) => child.stop()));
    log(`tracing:   the sink took ${sink.counts.requests} exports, ${(sink.counts.bytes / 1e6).toFixed(1)} MB`);
    return { untraced: median.untraced, traced: median.traced, exports: { ...sink.counts }, clients: options.settings.clients, ratios: comparisons.map((each) => each.ratio), failed: comparisons.some((each) => [each.untraced, each.traced].some((side) => Object.keys(side.failures).length > 0)) };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await sink.close();
    await deleteKeysWithPrefix(redis, options.prefix).catch(() => 0);
    redis.disconnect();
  }
}

export function tracingCostRows(figures: TracingCostFigures): Row[] {
  const value = figures.traced.requestsPerSecond / figures.untraced.requestsPerSecond;
  const exported = figures.exports.requests > 0;
  const added = figures.traced.soloLatency.p50 - figures.untraced.soloLatency.p50;
  return [
    {
      figure: `tracing: POST /v1/jobs req/s with OTEL_EXPORTER_OTLP_ENDPOINT set (${figures.clients} keep-alive clients, no worker; spans to a local sink; median of ${figures.ratios.length} comparisons)`,
      spool: rate(figures.traced.requestsPerSecond, 'req/s'),
      baseline: `${rate(figures.untraced.requestsPerSecond, 'req/s')} (tracing off)`,
      comparison: `${ratio(value)} (${Number.isFinite(value) ? `${((1 - value) * 100).toFixed(1)}% cost` : 'n/a'}); one client: p50 ${signedMs(added)}`,
      goal: '≥ 0.90× (≤ 10%)',
      // No export reached the sink (tracing was not on) or requests failed: the figure measures nothing.
      met: Number.isFinite(value) && exported && !figures.failed ? value >= 0.9 : undefined,
    },
  ];
}

export function tracingCostDetails(figures: TracingCostFigures): { title: string; lines: string[] } {
  const line = (name: string, result: EnqueueResult) =>
    `- ${name}: ${result.accepted} accepted, latency p50 ${ms(result.latency.p50)} p99 ${ms(result.latency.p99)}; ` +
    `with a single client p50 ${ms(result.soloLatency.p50)} p99 ${ms(result.soloLatency.p99)}` +
    (Object.keys(result.failures).length ? `, failures ${JSON.stringify(result.failures)}` : '');
  return {
    title: 'tracing cost',
    lines: [
      `- ${figures.ratios.length} comparisons, traced/untraced: ${figures.ratios.map((each) => ratio(each)).join(', ')}; the figure is the median one's`,
      line('tracing off', figures.untraced),
      line('tracing on (OTLP/HTTP protobuf, default batching)', figures.traced),
      `- the sink took ${figures.exports.requests} export requests, ${(figures.exports.bytes / 1e6).toFixed(1)} MB`,
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  installExitHandlers(async () => undefined);
  const settings = benchSettings();
  const figures = await benchTracingCost({
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix: `bench-tracing-${randomBytes(6).toString('hex')}`,
    settings: settings.enqueue,
    comparisons: settings.quick ? 1 : 3,
    log: (line) => console.error(`bench: ${line}`),
  });
  console.log(renderTable(tracingCostRows(figures)));
  console.log(tracingCostDetails(figures).lines.join('\n'));
  process.exit(0);
}
