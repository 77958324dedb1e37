/**
 * Issue 14's figures: the noisy neighbour and the fair scheduler's cost.
 * - Noisy neighbour: tenant B's time to first delta (POST /v1/jobs → first SSE delta, p50) while
 *   tenant A runs a 10,000-request batch, beside B alone, on one API and one worker process at
 *   their defaults (WORKER_CONCURRENCY 50): the workers are the bottleneck, A's batch fills them.
 * - The scheduler's own cost per job, measured on Redis directly: a job put in line and released
 *   (what the API does for a submission, and what a worker does when a slot frees).
 * Alone: `npx tsx bench/fair-share.ts` (BENCH_QUICK=1: a 2,000-request batch).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createParser } from 'eventsource-parser';
import { Redis } from 'ioredis';
import { FairScheduler, chatJobOptions, createChatQueue, createKeys } from '@spool/queue';
import { freePort, installExitHandlers, spoolEnv, startChild, waitForHttp, type Child } from './processes.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { renderTable, type Row } from './report.js';
import { ms, ratio, summarize } from './stats.js';

export interface FairShareFigures {
  batchRequests: number;
  aloneP50: number;
  contendedP50: number;
  contendedP99: number;
  /** Redis CPU µs per job: BullMQ's add alone, and the scheduler's whole path (add included) */
  scheduler: { rawUs: number; scheduledUs: number };
}

const KEYS = { a: `a-${randomBytes(12).toString('hex')}`, b: `b-${randomBytes(12).toString('hex')}` };

/** POST /v1/jobs as tenant B, then its event stream: ms from sending the POST to the first delta. */
async function firstDeltaMs(apiUrl: string, content: string): Promise<number> {
  const started = performance.now();
  const posted = await fetch(`${apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.b}` },
    body: JSON.stringify({ messages: [{ role: 'user', content }] }),
  });
  if (posted.status !== 202) throw new Error(`POST /v1/jobs answered ${posted.status}: ${await posted.text()}`);
  const { id } = (await posted.json()) as { id: string };
  const events = await fetch(`${apiUrl}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${KEYS.b}` } });
  let first = Number.NaN;
  const parser = createParser({ onEvent: (event) => void (event.event === 'delta' && Number.isNaN(first) && (first = performance.now() - started)) });
  const decoder = new TextDecoder();
  for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (!Number.isNaN(first)) break;
  }
  await events.body?.cancel().catch(() => undefined);
  return first;
}

async function measureB(apiUrl: string, jobs: number, concurrency: number): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < jobs) samples.push(await firstDeltaMs(apiUrl, `[[sim tokens=5]] b ${next++}`));
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return samples;
}

async function submitBatch(apiUrl: string, requests: number): Promise<void> {
  const items = Array.from({ length: requests }, (_, i) => ({ custom_id: `r${i}`, body: { messages: [{ role: 'user', content: `[[sim tokens=20]] a ${i}` }] } }));
  const answer = await fetch(`${apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.a}` },
    body: JSON.stringify({ requests: items }),
  });
  if (answer.status !== 202) throw new Error(`POST /v1/batches answered ${answer.status}: ${await answer.text()}`);
}

/** Redis CPU time (µs) all commands took so far, from INFO commandstats. */
async function redisMicros(redis: Redis): Promise<number> {
  let total = 0;
  for (const match of (await redis.info('commandstats')).matchAll(/usec=(\d+)/g)) total += Number(match[1]);
  return total;
}

/**
 * Redis CPU µs per job on a private redis-server (no other client's work counted): BullMQ's
 * `queue.add` alone (what a raw producer pays), and the scheduler's path (put in line beside the
 * record, released onto the queue, its slot freed by FINISH and the next one released).
 */
async function schedulerCost(jobs: number): Promise<{ rawUs: number; scheduledUs: number }> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: (times) => (times > 100 ? null : 50) });
  redis.on('error', () => undefined); // refused until the server is up
  try {
    await redis.ping();
    const keys = createKeys('bench-sched');
    const queue = createChatQueue(redis, keys.prefix);
    const scheduler = new FairScheduler(redis, keys, queue, { maxAttempts: 5 });
    await queue.add('chat', { jobId: 'warm' }, chatJobOptions('warm', { priority: 5, attempts: 5 }));
    let before = await redisMicros(redis);
    for (let i = 0; i < jobs; i++) await queue.add('chat', { jobId: `raw_${i}` }, chatJobOptions(`raw_${i}`, { priority: 5, attempts: 5 }));
    const rawUs = ((await redisMicros(redis)) - before) / jobs;

    const pipeline = redis.pipeline();
    // what ADMIT writes that the scheduler reads: the tenant index's order and the token estimate
    for (let i = 0; i < jobs; i++) pipeline.zadd(keys.tenantJobs(`t${i % 2}`), i + 1, `job_${i}`).hset(keys.tenantEstimates(`t${i % 2}`), `job_${i}`, 100);
    await pipeline.exec();
    await scheduler.heartbeat('bench', 1, 600_000);
    before = await redisMicros(redis);
    for (let i = 0; i < jobs; i++) {
      const id = `job_${i}`;
      await scheduler.enqueue(`t${i % 2}`, [{ id, priority: 5 }]);
      // what FINISH does for the scheduler, then the release that follows a job's end
      await redis.multi().zrem(keys.tenantRunning(`t${i % 2}`), id).zrem(keys.schedulerReleased(), id).zrem(keys.schedulerPending(), id).exec();
      await scheduler.dispatch(id);
    }
    const scheduledUs = ((await redisMicros(redis)) - before) / jobs;
    await queue.close();
    return { rawUs, scheduledUs };
  } finally {
    redis.disconnect();
    server.kill();
  }
}

export async function runFairShareBench(options: { redisUrl: string; quick?: boolean; log?: (line: string) => void }): Promise<FairShareFigures> {
  const log = options.log ?? (() => undefined);
  const batchRequests = options.quick ? 2000 : 10_000;
  const prefix = `bench-fair-${randomBytes(6).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-fair-'));
  const configPath = join(dir, 'spool.yaml');
  writeFileSync(configPath, `tenants:\n  a: {keys: ["${KEYS.a}"], client_rpm: 1000000000}\n  b: {keys: ["${KEYS.b}"], client_rpm: 1000000000}\n`);
  const children: Child[] = [];
  const redis = new Redis(options.redisUrl);
  try {
    const simulator = startChild({ name: 'simulator (fair share)', script: 'packages/simulator/src/main.ts', env: { SIMULATOR_PORT: '0', SIMULATOR_HOST: '127.0.0.1', SIMULATOR_TTFT_MS: '50', SIMULATOR_TOKENS_PER_SECOND: '100' } });
    children.push(simulator);
    const simulatorUrl = (await simulator.waitForLine(/simulator listening on (\S+)/))[1];
    const port = await freePort();
    const env = { ...spoolEnv(options.redisUrl, prefix, port, simulatorUrl), SPOOL_CONFIG: configPath, SPOOL_API_KEYS: '', SPOOL_METRICS_PORT: '0' };
    const api = startChild({ name: 'api (fair share)', script: 'services/api/src/main.ts', env });
    const worker = startChild({ name: 'worker (fair share)', script: 'services/worker/src/main.ts', env: { ...env, PORT: '0' } });
    children.push(api, worker);
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(api, `${apiUrl}/healthz`);
    await measureB(apiUrl, 10, 2); // warm up: the worker is up and connections are open

    const alone = await measureB(apiUrl, 60, 4);
    log(`fair share: B alone p50 ${ms(summarize(alone).p50)}`);
    await submitBatch(apiUrl, batchRequests);
    const contended = await measureB(apiUrl, 60, 4);
    const waiting = await redis.zcard(createKeys(prefix).tenantWaiting('a'));
    log(`fair share: B beside A's ${batchRequests}-request batch p50 ${ms(summarize(contended).p50)} (A still had ${waiting} in line)`);
    const scheduler = await schedulerCost(options.quick ? 2000 : 10_000);
    log(`fair share: Redis CPU per job ${scheduler.scheduledUs.toFixed(0)} µs through the scheduler, ${scheduler.rawUs.toFixed(0)} µs for queue.add alone`);
    return { batchRequests, aloneP50: summarize(alone).p50, contendedP50: summarize(contended).p50, contendedP99: summarize(contended).p99, scheduler };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function fairShareRows(figures: FairShareFigures): Row[] {
  const value = figures.contendedP50 / figures.aloneP50;
  return [
    {
      figure: `noisy neighbour: B's p50 time to first delta while A runs a ${figures.batchRequests.toLocaleString('en-US')}-request batch (weights 1:1, 50 worker slots)`,
      spool: `${ms(figures.contendedP50)} (p99 ${ms(figures.contendedP99)})`,
      baseline: `${ms(figures.aloneP50)} (B alone)`,
      comparison: ratio(value),
      goal: '≤ 1.5×',
      met: Number.isFinite(value) ? value <= 1.5 : undefined,
    },
    {
      figure: 'fair scheduler: Redis CPU per job (in line beside CREATE, released onto the queue, slot freed at the end, next released)',
      spool: `${figures.scheduler.scheduledUs.toFixed(0)} µs`,
      baseline: `${figures.scheduler.rawUs.toFixed(0)} µs (queue.add alone)`,
      comparison: `+${(figures.scheduler.scheduledUs - figures.scheduler.rawUs).toFixed(0)} µs; round trips: the API's add waits for 1 script, a worker runs 2 off the job's path`,
      goal: 'small',
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  installExitHandlers(async () => undefined);
  const quick = ['1', 'true', 'yes'].includes((process.env.BENCH_QUICK ?? '').toLowerCase());
  const figures = await runFairShareBench({ redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', quick, log: (line) => console.error(`bench: ${line}`) });
  console.log(renderTable(fairShareRows(figures)));
  process.exit(0);
}
