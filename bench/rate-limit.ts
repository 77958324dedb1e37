/**
 * Issue 3's benchmark: many jobs against an upstream that allows RPM requests a minute (the
 * simulator's OpenAI-style limit: RPM in any 60 s, RPM/12 + 1 in any 5 s), through
 * - Spool: the API and two worker processes sharing SPOOL_UPSTREAM_RPM, jobs sent with POST /v1/jobs;
 * - a naive worker: plain BullMQ Workers (same concurrency, same attempts and first backoff as
 *   Spool's defaults) calling the `openai` SDK with its default retries (maxRetries 2, which obey
 *   retry-after), and nothing shared between them.
 * Each side gets a fresh simulator process, so neither starts with the other's spent budget.
 * Figures: total time against the ideal (jobs ÷ RPM), 429s the simulator answered, failed jobs.
 *
 * `runRateLimitBench()` is what `bench/main.ts` calls; `npx tsx bench/rate-limit.ts` runs it alone
 * and prints a table. BENCH_QUICK=1: 200 jobs at 1200 RPM (~10 s a side) instead of 1,000 at 600 (~100 s).
 * Traffic goes to 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { BENCH_AUTH, freePort, installExitHandlers, spoolEnv, startChild, waitForHttp, type Child } from './processes.js';
import { keepAliveAgent, postJson } from './http.js';
import { runNaiveFleet } from './naive-fleet.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { renderTable, type Row } from './report.js';
import { errorText } from './stream-runner.js';

export interface RateLimitSettings {
  quick: boolean;
  jobs: number;
  /** the simulator's limit, and Spool's SPOOL_UPSTREAM_RPM */
  rpm: number;
  /** worker processes (Spool) and BullMQ Workers (naive) */
  workers: number;
  /** WORKER_CONCURRENCY, and the naive Workers' concurrency */
  concurrency: number;
  /** attempts per job on both sides (Spool's SPOOL_MAX_ATTEMPTS default) */
  attempts: number;
  /** first retry delay on both sides (Spool's SPOOL_BACKOFF_MS default) */
  backoffMs: number;
  simulator: { ttftMs: number; tokensPerSecond: number };
  prompt: string;
  /** POSTs in flight while submitting */
  submitClients: number;
}

export function rateLimitSettings(env: NodeJS.ProcessEnv = process.env): RateLimitSettings {
  const quick = ['1', 'true', 'yes'].includes((env.BENCH_QUICK ?? '').toLowerCase());
  return {
    quick,
    jobs: quick ? 200 : 1000,
    rpm: quick ? 1200 : 600,
    workers: 2,
    concurrency: 50,
    attempts: 5,
    backoffMs: 1000,
    simulator: { ttftMs: 50, tokensPerSecond: 100 },
    prompt: '[[sim tokens=20]] Say something about rate limits.',
    submitClients: 20,
  };
}

export interface SideFigures {
  name: string;
  jobs: number;
  succeeded: number;
  failed: number;
  /** neither succeeded nor failed when the side gave up waiting */
  unfinished: number;
  /** first submission to the last job's end */
  elapsedMs: number;
  /** jobs ÷ RPM: the least time the limit allows */
  idealMs: number;
  /** elapsed ÷ ideal */
  slowdown: number;
  /** chat completion calls the simulator received, 429s included */
  upstreamRequests: number;
  /** 429s the simulator answered */
  upstream429s: number;
  firstError?: string;
}

export interface RateLimitFigures {
  settings: RateLimitSettings;
  spool: SideFigures;
  naive: SideFigures;
}

export interface RateLimitBenchOptions {
  settings?: RateLimitSettings;
  redisUrl?: string;
  /** progress lines; default: stderr with a `bench:` prefix */
  log?: (line: string) => void;
}

interface SimulatorStats {
  requests: number;
  rateLimited: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Throws unless `url` names this machine: the bench sends traffic to loopback only. */
export function assertLocal(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) throw new Error(`bench: ${what} must point at this machine (127.0.0.1), got ${host}`);
}

async function startSimulator(settings: RateLimitSettings, name: string): Promise<{ child: Child; url: string }> {
  const child = startChild({
    name,
    script: 'packages/simulator/src/main.ts',
    env: {
      SIMULATOR_PORT: '0',
      SIMULATOR_HOST: '127.0.0.1',
      SIMULATOR_TTFT_MS: String(settings.simulator.ttftMs),
      SIMULATOR_TOKENS_PER_SECOND: String(settings.simulator.tokensPerSecond),
      SIMULATOR_RPM: String(settings.rpm),
    },
  });
  const url = (await child.waitForLine(/simulator listening on (\S+)/))[1];
  return { child, url };
}

export async function simulatorStats(simulatorUrl: string): Promise<SimulatorStats> {
  const response = await fetch(new URL('/sim/stats', simulatorUrl));
  return (await response.json()) as SimulatorStats;
}

function sideFigures(name: string, settings: RateLimitSettings, outcome: { succeeded: number; failed: number; elapsedMs: number; firstError?: string }, stats: SimulatorStats): SideFigures {
  const idealMs = (settings.jobs / settings.rpm) * 60_000;
  return {
    name,
    jobs: settings.jobs,
    succeeded: outcome.succeeded,
    failed: outcome.failed,
    unfinished: settings.jobs - outcome.succeeded - outcome.failed,
    elapsedMs: outcome.elapsedMs,
    idealMs,
    slowdown: outcome.elapsedMs / idealMs,
    upstreamRequests: stats.requests,
    upstream429s: stats.rateLimited,
    firstError: outcome.firstError,
  };
}

/** How long a side may take before it is reported as unfinished. */
const giveUpAfterMs = (settings: RateLimitSettings) => (settings.jobs / settings.rpm) * 60_000 * 4 + 60_000;

/** Counts the tenant's jobs with `status`, paging through GET /v1/jobs. */
export async function countJobs(apiUrl: string, status: string, stopAt = Infinity): Promise<number> {
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ status, limit: '100', ...(after && { after }) });
    const response = await fetch(`${apiUrl}/v1/jobs?${query}`, { headers: BENCH_AUTH });
    if (response.status !== 200) throw new Error(`GET /v1/jobs?${query} answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as { data: { id: string; error?: { code?: string } | null }[]; has_more: boolean };
    count += page.data.length;
    if (!page.has_more || page.data.length === 0 || count >= stopAt) return count;
    after = page.data.at(-1)!.id;
  }
}

async function runSpool(settings: RateLimitSettings, redisUrl: string, prefix: string, log: (line: string) => void): Promise<SideFigures> {
  const simulator = await startSimulator(settings, 'simulator (spool side)');
  const children: Child[] = [simulator.child];
  try {
    const apiPort = await freePort();
    // The defaults, but for what this scenario is about: the upstream's limit, and attempts and backoff as the naive side has them.
    const env = {
      ...spoolEnv(redisUrl, prefix, apiPort, simulator.url),
      SPOOL_UPSTREAM_RPM: String(settings.rpm),
      SPOOL_MAX_ATTEMPTS: String(settings.attempts),
      SPOOL_BACKOFF_MS: String(settings.backoffMs),
    };
    const api = startChild({ name: 'api', script: 'services/api/src/main.ts', env });
    children.push(api);
    const workers = Array.from({ length: settings.workers }, (_, index) =>
      startChild({ name: `worker ${index + 1}`, script: 'services/worker/src/main.ts', env: { ...env, PORT: '0', WORKER_CONCURRENCY: String(settings.concurrency) } }),
    );
    children.push(...workers);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await Promise.all([waitForHttp(api, `${apiUrl}/healthz`), ...workers.map((worker) => worker.waitForLine(/worker ready/))]);

    log(`spool: submitting ${settings.jobs} jobs (${settings.workers} workers × ${settings.concurrency}, SPOOL_UPSTREAM_RPM=${settings.rpm})`);
    const agent = keepAliveAgent(settings.submitClients);
    const started = performance.now();
    let next = 0;
    let firstError: string | undefined;
    let rejected = 0;
    const submitter = async () => {
      while (next < settings.jobs) {
        const index = next++;
        const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${settings.prompt} #${index}` }] });
        try {
          const answer = await postJson(`${apiUrl}/v1/jobs`, body, { agent, timeoutMs: 30_000, headers: BENCH_AUTH });
          if (answer.status !== 202) throw new Error(`POST /v1/jobs answered ${answer.status}: ${answer.text.slice(0, 200)}`);
        } catch (error) {
          rejected++;
          firstError ??= errorText(error);
        }
      }
    };
    await Promise.all(Array.from({ length: settings.submitClients }, submitter));
    agent.destroy();
    log(`spool: submitted in ${((performance.now() - started) / 1000).toFixed(1)} s${rejected ? `, ${rejected} rejected (${firstError})` : ''}`);

    // Done when nothing is queued or running; the count of ended jobs then confirms it.
    const pollMs = Math.max(250, (settings.jobs / settings.rpm) * 60_000 / 200);
    const deadline = started + giveUpAfterMs(settings);
    let elapsedMs = Number.NaN;
    let lastReport = started;
    while (performance.now() < deadline) {
      const seenAt = performance.now();
      const [queued, running] = await Promise.all([countJobs(apiUrl, 'queued', 1), countJobs(apiUrl, 'running', 1)]);
      if (queued === 0 && running === 0) {
        const ended = (await countJobs(apiUrl, 'succeeded')) + (await countJobs(apiUrl, 'failed'));
        if (ended + rejected >= settings.jobs) {
          elapsedMs = seenAt - started;
          break;
        }
      }
      if (seenAt - lastReport > 10_000) {
        lastReport = seenAt;
        const stats = await simulatorStats(simulator.url);
        log(`spool:   ${((seenAt - started) / 1000).toFixed(0)} s, ${stats.requests} upstream calls, ${stats.rateLimited} answered 429`);
      }
      await sleep(pollMs);
    }
    const succeeded = await countJobs(apiUrl, 'succeeded');
    const failed = (await countJobs(apiUrl, 'failed')) + rejected;
    if (Number.isNaN(elapsedMs)) elapsedMs = performance.now() - started;
    const side = sideFigures('spool', settings, { succeeded, failed, elapsedMs, firstError }, await simulatorStats(simulator.url));
    const complaints = children.flatMap((child) => child.logSummary.map((entry) => `${child.name}: ${entry.count}× ${entry.level} "${entry.msg}"`));
    for (const line of complaints) log(`spool:   ${line}`);
    for (const child of children) {
      if (!child.logSummary.some((entry) => entry.level !== 'warn')) continue;
      const last = child.output.split('\n').findLast((line) => /"level":(50|60)/.test(line));
      if (last) log(`spool:   ${child.name}, last error: ${last.slice(0, 500)}`);
    }
    return side;
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

async function runNaive(settings: RateLimitSettings, redisUrl: string, prefix: string, log: (line: string) => void): Promise<SideFigures> {
  const simulator = await startSimulator(settings, 'simulator (naive side)');
  try {
    log(`naive: adding ${settings.jobs} jobs (${settings.workers} BullMQ Workers × ${settings.concurrency}, openai SDK maxRetries 2, no shared limiter)`);
    const outcome = await runNaiveFleet(settings, redisUrl, prefix, {
      // What a first version looks like: one SDK client per worker, its default retries, nothing shared.
      pickClient: () => {
        const client = new OpenAI({ baseURL: simulator.url, apiKey: 'bench' });
        return () => client;
      },
      giveUpAfterMs: giveUpAfterMs(settings),
      onProgress: (ended, elapsedMs) =>
        void simulatorStats(simulator.url).then((stats) =>
          log(`naive:   ${(elapsedMs / 1000).toFixed(0)} s, ${ended} ended, ${stats.requests} upstream calls, ${stats.rateLimited} answered 429`),
        ),
    });
    return sideFigures('naive', settings, outcome, await simulatorStats(simulator.url));
  } finally {
    await simulator.child.stop();
  }
}

/** Runs both sides one after the other on a fresh key prefix, deletes its keys, returns the figures. */
export async function runRateLimitBench(options: RateLimitBenchOptions = {}): Promise<RateLimitFigures> {
  const settings = options.settings ?? rateLimitSettings();
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const log = options.log ?? ((line: string) => console.error(`bench: ${line}`));
  assertLocal(redisUrl, 'REDIS_URL');
  const prefix = `bench-rl-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    log(`rate limit: ${settings.jobs} jobs against ${settings.rpm} RPM, ideal ${((settings.jobs / settings.rpm) * 60).toFixed(0)} s a side, prefix ${prefix}`);
    const spool = await runSpool(settings, redisUrl, `${prefix}-spool`, log);
    log(`spool: ${describeSide(spool)}`);
    const naive = await runNaive(settings, redisUrl, `${prefix}-naive`, log);
    log(`naive: ${describeSide(naive)}`);
    return { settings, spool, naive };
  } finally {
    await deleteKeysWithPrefix(redis, prefix).catch((error: Error) => log(`could not delete keys ${prefix}*: ${error.message}`));
    redis.disconnect();
  }
}

const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'n/a');

function describeSide(side: SideFigures): string {
  const unfinished = side.unfinished ? `, ${side.unfinished} unfinished` : '';
  const error = side.firstError ? ` (first error: ${side.firstError})` : '';
  return (
    `${seconds(side.elapsedMs)} (${side.slowdown.toFixed(2)}× ideal ${seconds(side.idealMs)}), ${side.succeeded} succeeded, ` +
    `${side.failed} failed${unfinished}, ${side.upstreamRequests} upstream calls, ${side.upstream429s} answered 429${error}`
  );
}

/** The figures as rows of the bench's Markdown table (Spool beside the naive worker). */
export function rateLimitRows(figures: RateLimitFigures): Row[] {
  const { settings, spool, naive } = figures;
  const label = `${settings.jobs.toLocaleString('en-US')} jobs, upstream limited to ${settings.rpm} RPM`;
  const naiveName = '(naive BullMQ + SDK retries)';
  const okShare = (side: SideFigures) => side.jobs > 0 && side.failed === 0 && side.unfinished === 0;
  return [
    {
      figure: `(d) total time vs ideal (${label}; ideal ${seconds(spool.idealMs)})`,
      spool: `${seconds(spool.elapsedMs)} (${spool.slowdown.toFixed(2)}×)`,
      baseline: `${seconds(naive.elapsedMs)} (${naive.slowdown.toFixed(2)}×) ${naiveName}`,
      comparison: `${(spool.elapsedMs / naive.elapsedMs).toFixed(2)}×`,
      goal: '≤ 1.10× ideal',
      met: Number.isFinite(spool.slowdown) ? spool.slowdown <= 1.1 : undefined,
    },
    {
      figure: `(d) 429s answered by upstream (${label})`,
      spool: `${spool.upstream429s} of ${spool.upstreamRequests} calls`,
      baseline: `${naive.upstream429s} of ${naive.upstreamRequests} calls ${naiveName}`,
      comparison: `${spool.upstream429s - naive.upstream429s >= 0 ? '+' : '−'}${Math.abs(spool.upstream429s - naive.upstream429s)}`,
      goal: '≤ 1% of jobs',
      met: spool.upstream429s <= settings.jobs / 100,
    },
    {
      figure: `(d) failed or unfinished jobs (${label})`,
      spool: String(spool.failed + spool.unfinished),
      baseline: `${naive.failed + naive.unfinished} ${naiveName}`,
      comparison: `${spool.failed + spool.unfinished - (naive.failed + naive.unfinished)}`,
      goal: '0',
      met: okShare(spool),
    },
  ];
}

const runAlone = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runAlone) {
  installExitHandlers(async () => undefined);
  try {
    const result = await runRateLimitBench();
    console.log(`\n${renderTable(rateLimitRows(result))}\n`);
    console.log(JSON.stringify({ spool: result.spool, naive: result.naive }, null, 2));
    process.exit(0);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
