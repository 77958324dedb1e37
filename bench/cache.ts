/**
 * Cache figures (issue 18): 1,000 requests of which half repeat one of the other half, sent by
 * a fixed number of clients in a shuffled order, once without `cache` and once with it. Counts
 * the upstream calls (the simulator's own count) and the time until every job has ended. API and
 * worker run as child processes; the simulator runs in this process, so its count is at hand.
 * Alone: `npx tsx bench/cache.ts` (CACHE_BENCH_REQUESTS, CACHE_BENCH_CLIENTS to change the load).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createSimulator } from '@spool/simulator';
import { keepAliveAgent, postJson } from './http.js';
import { BENCH_AUTH, freePort, spoolEnv, startChild, waitForHttp, type Child } from './processes.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { renderTable, type Row } from './report.js';
import { ms, ratio } from './stats.js';

export interface CacheBenchOptions {
  redisUrl: string;
  /** requests per side; 1,000 (half of them repeats) */
  requests?: number;
  /** clients sending at once, each one request at a time (`?wait`); 50 */
  clients?: number;
  /** what each request asks the simulator for; 20 tokens */
  prompt?: string;
  log?: (line: string) => void;
}

export interface CacheSide {
  upstreamCalls: number;
  totalMs: number;
  /** jobs that ended `cached: true` */
  cached: number;
  failed: number;
}

export interface CacheBenchResult {
  requests: number;
  clients: number;
  without: CacheSide;
  with: CacheSide;
}

/** The same shuffled order on every run: a small linear congruential generator. */
function shuffled<T>(items: T[], seed = 18): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Sends every body with `clients` at a time, each waiting for its job to end; how long it took, and how the jobs ended. */
async function runSide(url: string, bodies: string[], clients: number): Promise<Omit<CacheSide, 'upstreamCalls'>> {
  const agent = keepAliveAgent(clients);
  let next = 0;
  let cached = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const answer = await postJson(`${url}/v1/jobs?wait=60`, body, { agent, timeoutMs: 90_000, headers: BENCH_AUTH });
        const job = answer.status < 300 ? (JSON.parse(answer.text) as { status: string; cached?: boolean }) : null;
        if (job?.status !== 'succeeded') failed++;
        else if (job.cached) cached++;
      }
    }),
  );
  const totalMs = performance.now() - started;
  agent.destroy();
  return { totalMs, cached, failed };
}

/** Runs both sides on one API and worker, on a prefix of their own; stops its children and deletes its keys. */
export async function benchCache(options: CacheBenchOptions): Promise<CacheBenchResult> {
  const requests = options.requests ?? 1000;
  const clients = options.clients ?? 50;
  const prompt = options.prompt ?? '[[sim tokens=20]]';
  const log = options.log ?? (() => undefined);
  const prefix = `bench-cache-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  const simulator = createSimulator({ ttftMs: 50, tokensPerSecond: 100 });
  const children: Child[] = [];
  const start = (child: Child) => (children.push(child), child);
  try {
    const simulatorUrl = await simulator.listen(0, '127.0.0.1');
    const port = await freePort();
    const env = spoolEnv(options.redisUrl, prefix, port, simulatorUrl);
    const api = start(startChild({ name: 'api', script: 'services/api/src/main.ts', env }));
    start(startChild({ name: 'worker', script: 'services/worker/src/main.ts', env: { ...env, PORT: '0', WORKER_CONCURRENCY: String(clients * 2) } }));
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(api, `${url}/healthz`, 60_000);
    // The worker is up once a job ends.
    await runSide(url, [JSON.stringify({ messages: [{ role: 'user', content: `${prompt} probe` }] })], 1);

    /** Half the requests are distinct; each of the other half repeats one of them. */
    const bodies = (tag: string, cache: boolean) =>
      shuffled(Array.from({ length: requests }, (_, i) => i % Math.ceil(requests / 2))).map((n) =>
        JSON.stringify({ messages: [{ role: 'user', content: `${prompt} ${tag} ${n}` }], ...(cache && { cache: { ttl_s: 3600 } }) }),
      );
    const side = async (name: string, cache: boolean): Promise<CacheSide> => {
      const before = simulator.stats.requests;
      const result = await runSide(url, bodies(name, cache), clients);
      const figures = { ...result, upstreamCalls: simulator.stats.requests - before };
      log(`cache: ${name}: ${figures.upstreamCalls} upstream calls, ${ms(figures.totalMs)} in all, ${figures.cached} cached, ${figures.failed} failed`);
      return figures;
    };
    const without = await side('without cache', false);
    const withCache = await side('with cache', true);
    return { requests, clients, without, with: withCache };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await simulator.close();
    await deleteKeysWithPrefix(redis, prefix).catch(() => 0);
    redis.disconnect();
  }
}

/** The figures as rows of the bench's Markdown table. */
export function cacheRows(result: CacheBenchResult): Row[] {
  const label = `${result.requests.toLocaleString('en-US')} requests, half repeats, ${result.clients} clients`;
  const calls = result.with.upstreamCalls / result.without.upstreamCalls;
  const time = result.with.totalMs / result.without.totalMs;
  const failures = result.with.failed + result.without.failed;
  return [
    {
      figure: `cache: upstream calls (${label})`,
      spool: `${result.with.upstreamCalls} with \`cache\` (${result.with.cached} cached)`,
      baseline: `${result.without.upstreamCalls} without`,
      comparison: ratio(calls),
      goal: '≤ 0.55×',
      met: Number.isFinite(calls) && failures === 0 ? calls <= 0.55 : undefined,
    },
    {
      figure: `cache: time until every job ended (${label})`,
      spool: `${ms(result.with.totalMs)} with \`cache\``,
      baseline: `${ms(result.without.totalMs)} without`,
      comparison: ratio(time),
      goal: '',
    },
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(redisUrl).hostname)) {
    console.error(`bench: REDIS_URL must point at this machine (127.0.0.1), got ${new URL(redisUrl).hostname}`);
    process.exit(2);
  }
  try {
    const result = await benchCache({
      redisUrl,
      requests: Number(process.env.CACHE_BENCH_REQUESTS ?? 1000),
      clients: Number(process.env.CACHE_BENCH_CLIENTS ?? 50),
      log: (line) => console.error(`bench: ${line}`),
    });
    console.log(`\n${renderTable(cacheRows(result))}\n`);
    process.exit(0);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
