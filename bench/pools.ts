/**
 * Issue 15's benchmark: many jobs against a pool of two upstreams that each allow RPM requests a
 * minute (two simulator processes, OpenAI-style limits: RPM in any 60 s, RPM/12 + 1 in any 5 s),
 * through
 * - Spool: the API and two worker processes, SPOOL_CONFIG listing both upstreams with their `rpm`;
 * - a naive worker that rotates keys per request: plain BullMQ Workers (same concurrency,
 *   attempts and first backoff as Spool's defaults), each request on the next of two `openai`
 *   SDK clients (one per upstream) with the SDK's default retries, nothing shared.
 * Figures: total time against the ideal (jobs ÷ the pool's RPM), 429s both upstreams answered,
 * failed jobs.
 *
 * `runPoolBench()` is what `bench/main.ts` calls; `npx tsx bench/pools.ts` runs it alone and prints
 * a table. BENCH_QUICK=1: 200 jobs (~10 s a side) instead of 600 (~30 s). Traffic goes to
 * 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { freePort, installExitHandlers, startChild, waitForHttp, type Child } from './processes.js';
import { keepAliveAgent, postJson } from './http.js';
import { runNaiveFleet } from './naive-fleet.js';
import { assertLocal, countJobs, simulatorStats } from './rate-limit.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { renderTable, type Row } from './report.js';
import { errorText } from './stream-runner.js';

export interface PoolBenchSettings {
  quick: boolean;
  jobs: number;
  /** each upstream's limit (its simulator's, and its `rpm` in SPOOL_CONFIG) */
  rpmEach: number;
  upstreams: number;
  /** worker processes (Spool) and BullMQ Workers (naive) */
  workers: number;
  concurrency: number;
  attempts: number;
  backoffMs: number;
  simulator: { ttftMs: number; tokensPerSecond: number };
  prompt: string;
  submitClients: number;
}

export function poolBenchSettings(env: NodeJS.ProcessEnv = process.env): PoolBenchSettings {
  const quick = ['1', 'true', 'yes'].includes((env.BENCH_QUICK ?? '').toLowerCase());
  return {
    quick,
    jobs: quick ? 200 : 600,
    rpmEach: 600,
    upstreams: 2,
    workers: 2,
    concurrency: 50,
    attempts: 5,
    backoffMs: 1000,
    simulator: { ttftMs: 50, tokensPerSecond: 100 },
    prompt: '[[sim tokens=20]] Say something about pools.',
    submitClients: 20,
  };
}

export interface PoolSide {
  name: string;
  jobs: number;
  succeeded: number;
  failed: number;
  unfinished: number;
  elapsedMs: number;
  idealMs: number;
  slowdown: number;
  /** calls and 429s over both upstreams, and the calls each received */
  upstreamRequests: number;
  upstream429s: number;
  perUpstream: number[];
  firstError?: string;
}

export interface PoolFigures {
  settings: PoolBenchSettings;
  spool: PoolSide;
  naive: PoolSide;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const poolRpm = (settings: PoolBenchSettings) => settings.rpmEach * settings.upstreams;
const giveUpAfterMs = (settings: PoolBenchSettings) => (settings.jobs / poolRpm(settings)) * 60_000 * 4 + 60_000;

interface Upstream {
  child: Child;
  url: string;
}

async function startUpstreams(settings: PoolBenchSettings, side: string): Promise<Upstream[]> {
  return Promise.all(
    Array.from({ length: settings.upstreams }, async (_, index) => {
      const child = startChild({
        name: `simulator ${index + 1} (${side} side)`,
        script: 'packages/simulator/src/main.ts',
        env: {
          SIMULATOR_PORT: '0',
          SIMULATOR_HOST: '127.0.0.1',
          SIMULATOR_NAME: `upstream-${index + 1}`,
          SIMULATOR_TTFT_MS: String(settings.simulator.ttftMs),
          SIMULATOR_TOKENS_PER_SECOND: String(settings.simulator.tokensPerSecond),
          SIMULATOR_RPM: String(settings.rpmEach),
        },
      });
      return { child, url: (await child.waitForLine(/simulator listening on (\S+)/))[1] };
    }),
  );
}

async function sideFigures(name: string, settings: PoolBenchSettings, upstreams: Upstream[], outcome: { succeeded: number; failed: number; elapsedMs: number; firstError?: string }): Promise<PoolSide> {
  const stats = await Promise.all(upstreams.map((upstream) => simulatorStats(upstream.url)));
  const idealMs = (settings.jobs / poolRpm(settings)) * 60_000;
  return {
    name,
    jobs: settings.jobs,
    succeeded: outcome.succeeded,
    failed: outcome.failed,
    unfinished: settings.jobs - outcome.succeeded - outcome.failed,
    elapsedMs: outcome.elapsedMs,
    idealMs,
    slowdown: outcome.elapsedMs / idealMs,
    upstreamRequests: stats.reduce((sum, each) => sum + each.requests, 0),
    upstream429s: stats.reduce((sum, each) => sum + each.rateLimited, 0),
    perUpstream: stats.map((each) => each.requests),
    firstError: outcome.firstError,
  };
}

async function runSpool(settings: PoolBenchSettings, redisUrl: string, prefix: string, log: (line: string) => void): Promise<PoolSide> {
  const upstreams = await startUpstreams(settings, 'spool');
  const children: Child[] = upstreams.map((upstream) => upstream.child);
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-pool-'));
  try {
    const configPath = join(dir, 'spool.json');
    const pool = upstreams.map((upstream, index) => ({ name: `upstream-${index + 1}`, base_url: upstream.url, api_key: 'bench', rpm: settings.rpmEach }));
    writeFileSync(configPath, JSON.stringify({ upstreams: pool }));
    const env = {
      REDIS_URL: redisUrl,
      SPOOL_PREFIX: prefix,
      HOST: '127.0.0.1',
      SPOOL_CONFIG: configPath,
      SPOOL_API_KEYS: '',
      SPOOL_CLIENT_RPM: '1000000',
      SPOOL_MAX_ATTEMPTS: String(settings.attempts),
      SPOOL_BACKOFF_MS: String(settings.backoffMs),
      SPOOL_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    };
    const apiPort = await freePort();
    const api = startChild({ name: 'api', script: 'services/api/src/main.ts', env: { ...env, PORT: String(apiPort), LOG_LEVEL: 'warn' } });
    children.push(api);
    const workers = Array.from({ length: settings.workers }, (_, index) =>
      startChild({ name: `worker ${index + 1}`, script: 'services/worker/src/main.ts', env: { ...env, PORT: '0', WORKER_CONCURRENCY: String(settings.concurrency) } }),
    );
    children.push(...workers);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await Promise.all([waitForHttp(api, `${apiUrl}/healthz`), ...workers.map((worker) => worker.waitForLine(/worker ready/))]);

    log(`pools spool: submitting ${settings.jobs} jobs (${settings.workers} workers × ${settings.concurrency}, ${settings.upstreams} upstreams × ${settings.rpmEach} RPM)`);
    const agent = keepAliveAgent(settings.submitClients);
    const started = performance.now();
    let next = 0;
    let rejected = 0;
    let firstError: string | undefined;
    const submitter = async () => {
      while (next < settings.jobs) {
        const index = next++;
        const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${settings.prompt} #${index}` }] });
        try {
          const answer = await postJson(`${apiUrl}/v1/jobs`, body, { agent, timeoutMs: 30_000 });
          if (answer.status !== 202) throw new Error(`POST /v1/jobs answered ${answer.status}: ${answer.text.slice(0, 200)}`);
        } catch (error) {
          rejected++;
          firstError ??= errorText(error);
        }
      }
    };
    await Promise.all(Array.from({ length: settings.submitClients }, submitter));
    agent.destroy();

    const deadline = started + giveUpAfterMs(settings);
    let elapsedMs = Number.NaN;
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
      await sleep(250);
    }
    const succeeded = await countJobs(apiUrl, 'succeeded');
    const failed = (await countJobs(apiUrl, 'failed')) + rejected;
    if (Number.isNaN(elapsedMs)) elapsedMs = performance.now() - started;
    for (const child of children) for (const entry of child.logSummary) log(`pools spool:   ${child.name}: ${entry.count}× ${entry.level} "${entry.msg}"`);
    return await sideFigures('spool', settings, upstreams, { succeeded, failed, elapsedMs, firstError });
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runNaive(settings: PoolBenchSettings, redisUrl: string, prefix: string, log: (line: string) => void): Promise<PoolSide> {
  const upstreams = await startUpstreams(settings, 'naive');
  try {
    log(`pools naive: adding ${settings.jobs} jobs (${settings.workers} BullMQ Workers × ${settings.concurrency}, keys rotated per request, SDK maxRetries 2)`);
    const outcome = await runNaiveFleet(settings, redisUrl, prefix, {
      // What rotating keys looks like without a shared gate: the next key for every request.
      pickClient: (worker) => {
        const clients = upstreams.map((upstream) => new OpenAI({ baseURL: upstream.url, apiKey: 'bench' }));
        let turn = worker;
        return () => clients[turn++ % clients.length];
      },
      giveUpAfterMs: giveUpAfterMs(settings),
    });
    return await sideFigures('naive', settings, upstreams, outcome);
  } finally {
    await Promise.all(upstreams.map((upstream) => upstream.child.stop()));
  }
}

export interface PoolBenchOptions {
  settings?: PoolBenchSettings;
  redisUrl?: string;
  log?: (line: string) => void;
}

/** Runs both sides one after the other on a fresh key prefix, deletes its keys, returns the figures. */
export async function runPoolBench(options: PoolBenchOptions = {}): Promise<PoolFigures> {
  const settings = options.settings ?? poolBenchSettings();
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const log = options.log ?? ((line: string) => console.error(`bench: ${line}`));
  assertLocal(redisUrl, 'REDIS_URL');
  const prefix = `bench-pool-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    log(`pools: ${settings.jobs} jobs against ${settings.upstreams} upstreams of ${settings.rpmEach} RPM, ideal ${((settings.jobs / poolRpm(settings)) * 60).toFixed(0)} s a side, prefix ${prefix}`);
    const spool = await runSpool(settings, redisUrl, `${prefix}-spool`, log);
    log(`pools spool: ${describeSide(spool)}`);
    const naive = await runNaive(settings, redisUrl, `${prefix}-naive`, log);
    log(`pools naive: ${describeSide(naive)}`);
    return { settings, spool, naive };
  } finally {
    await deleteKeysWithPrefix(redis, prefix).catch((error: Error) => log(`could not delete keys ${prefix}*: ${error.message}`));
    redis.disconnect();
  }
}

const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'n/a');

function describeSide(side: PoolSide): string {
  const unfinished = side.unfinished ? `, ${side.unfinished} unfinished` : '';
  const error = side.firstError ? ` (first error: ${side.firstError})` : '';
  return (
    `${seconds(side.elapsedMs)} (${side.slowdown.toFixed(2)}× ideal ${seconds(side.idealMs)}), ${side.succeeded} succeeded, ${side.failed} failed${unfinished}, ` +
    `${side.upstreamRequests} upstream calls (${side.perUpstream.join(' + ')}), ${side.upstream429s} answered 429${error}`
  );
}

/** The figures as rows of the bench's Markdown table (Spool beside the naive key rotation). */
export function poolRows(figures: PoolFigures): Row[] {
  const { settings, spool, naive } = figures;
  const label = `${settings.jobs} jobs, ${settings.upstreams} upstreams × ${settings.rpmEach} RPM`;
  const naiveName = '(naive: keys rotated per request)';
  return [
    {
      figure: `(pools) total time vs ideal (${label}; ideal ${seconds(spool.idealMs)})`,
      spool: `${seconds(spool.elapsedMs)} (${spool.slowdown.toFixed(2)}×)`,
      baseline: `${seconds(naive.elapsedMs)} (${naive.slowdown.toFixed(2)}×) ${naiveName}`,
      comparison: `${(spool.elapsedMs / naive.elapsedMs).toFixed(2)}×`,
      goal: '≤ 1.10× ideal',
      met: Number.isFinite(spool.slowdown) ? spool.slowdown <= 1.1 : undefined,
    },
    {
      figure: `(pools) 429s answered by the upstreams (${label})`,
      spool: `${spool.upstream429s} of ${spool.upstreamRequests} calls (${spool.perUpstream.join(' + ')})`,
      baseline: `${naive.upstream429s} of ${naive.upstreamRequests} calls ${naiveName}`,
      comparison: `${spool.upstream429s - naive.upstream429s >= 0 ? '+' : '−'}${Math.abs(spool.upstream429s - naive.upstream429s)}`,
      goal: '0',
      met: spool.upstream429s === 0,
    },
    {
      figure: `(pools) failed or unfinished jobs (${label})`,
      spool: String(spool.failed + spool.unfinished),
      baseline: `${naive.failed + naive.unfinished} ${naiveName}`,
      comparison: `${spool.failed + spool.unfinished - (naive.failed + naive.unfinished)}`,
      goal: '0',
      met: spool.jobs > 0 && spool.failed + spool.unfinished === 0,
    },
  ];
}

const runAlone = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runAlone) {
  installExitHandlers(async () => undefined);
  try {
    const result = await runPoolBench();
    console.log(`\n${renderTable(poolRows(result))}\n`);
    console.log(JSON.stringify({ spool: result.spool, naive: result.naive }, null, 2));
    process.exit(0);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
