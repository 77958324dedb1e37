/**
 * `npm run bench`: Spool's figures beside baselines measured in the same run, on the same Redis
 * and machine. Simulator, API, worker and the raw-BullMQ baseline run as child processes.
 * BENCH_QUICK=1 runs a ~30 s smoke version. Prints a Markdown table and writes bench/results.md.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { createChatQueue } from '@spool/queue';
import { benchSettings } from './settings.js';
import { installExitHandlers, spoolEnv, startChild, stopAllChildren, freePort, waitForHttp, ROOT, BENCH_API_KEY, type Child } from './processes.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { CpuMeter } from './cpu.js';
import { capacityRows } from './capacity.js';
import { SpoolStreamRunner } from './sse.js';
import { SdkStreamRunner } from './sdk-runner.js';
import { measureFirstToken } from './first-token.js';
import { saturate, type SaturationResult, type StepResult } from './saturation.js';
import { compareEnqueue } from './enqueue.js';
import { ms, rate, ratio, signedMs } from './stats.js';
import { renderTable, writeResults, type Row } from './report.js';
import { rateLimitRows, runRateLimitBench } from './rate-limit.js';
import { batchRows, benchBatch } from './batch.js';
import { benchDoor, doorRows } from './door.js';
import { measureWatchers, watchersRows } from './watchers.js';
import { poolRows, runPoolBench } from './pools.js';
import { benchCache, cacheRows } from './cache.js';
import { fairShareRows, runFairShareBench } from './fair-share.js';
import { benchTracingCost, tracingCostDetails, tracingCostRows } from './tracing-cost.js';

const settings = benchSettings();
/** BENCH_ONLY=c,tracing,a,b,e,f,d,pools,fair,batch,cache runs only those scenarios (all when unset). */
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').map((name) => name.trim()).filter(Boolean));
const runs = (scenario: string) => only.size === 0 || only.has(scenario);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(redisUrl).hostname)) {
  console.error(`bench: REDIS_URL must point at this machine (127.0.0.1), got ${new URL(redisUrl).hostname}`);
  process.exit(2);
}
const prefix = `bench-${randomBytes(6).toString('hex')}`;
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
const log = (line: string) => console.error(`bench: ${line}`);
const started = Date.now();
const loadAtStart = loadavg()[0];
const running: Child[] = [];
let cleaned: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    await stopAllChildren();
    const deleted = await deleteKeysWithPrefix(redis, prefix).catch((error: Error) => {
      log(`could not delete keys ${prefix}*: ${error.message}`);
      return 0;
    });
    log(`deleted ${deleted} keys under ${prefix}*`);
    redis.disconnect();
  })();
  return cleaned;
}
installExitHandlers(cleanup);

function track(child: Child): Child {
  running.push(child);
  return child;
}

function describeStep(side: string, step: StepResult): string {
  const errors = step.errors ? `, ${step.errors} failed (${step.firstError})` : '';
  const mismatches = step.tokenMismatches ? `, ${step.tokenMismatches} with usage.completion_tokens ≠ tokens streamed` : '';
  return (
    `${side} ${String(step.streams).padStart(4)} streams: ${rate(step.tokensPerSecond, 'tok/s')}, ` +
    `ttfd p50 ${ms(step.ttfd.p50)} p99 ${ms(step.ttfd.p99)} (${step.jobs} jobs${errors}${mismatches}); ` +
    `cpu: ${step.cpu} = ${step.cpuMsPerKiloToken?.toFixed(0) ?? '?'} core-ms per 1k tokens` +
    (step.stages ? `; stages p50/p99: ${step.stages}` : '')
  );
}

function bestText(result: SaturationResult): string {
  if (!result.best) return 'n/a';
  const text = `${rate(result.best.tokensPerSecond, 'tok/s')} @ ${result.best.streams} streams`;
  return result.overLimit ? `${text} (already p50 ${ms(result.best.ttfd.p50)}: no step within the limit)` : text;
}

async function main(): Promise<void> {
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  log(`${settings.quick ? 'quick' : 'full'} run, prefix ${prefix}, Redis ${redisVersion} at ${redisUrl}`);
  const rows: Row[] = [];
  const details: { title: string; lines: string[] }[] = [];

  const simulator = track(
    startChild({
      name: 'simulator',
      script: 'packages/simulator/src/main.ts',
      env: {
        SIMULATOR_PORT: '0',
        SIMULATOR_HOST: '127.0.0.1',
        SIMULATOR_TTFT_MS: String(settings.simulator.ttftMs),
        SIMULATOR_TOKENS_PER_SECOND: String(settings.simulator.tokensPerSecond),
      },
    }),
  );
  const simulatorUrl = (await simulator.waitForLine(/simulator listening on (\S+)/))[1];

  // (c) enqueue rate: an API with no worker against Express + queue.add, each on its own prefix.
  if (runs('c')) {
    const [apiPort, rawPort] = [await freePort(), await freePort()];
    const api = track(startChild({ name: 'api (enqueue only)', script: 'services/api/src/main.ts', env: spoolEnv(redisUrl, `${prefix}-enqueue`, apiPort, simulatorUrl) }));
    const raw = track(
      startChild({ name: 'raw-bullmq', script: 'bench/raw-enqueue-server.ts', env: { REDIS_URL: redisUrl, SPOOL_PREFIX: `${prefix}-raw`, PORT: String(rawPort) } }),
    );
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const [, rawMatch] = await Promise.all([waitForHttp(api, `${apiUrl}/healthz`), raw.waitForLine(/raw enqueue listening on (\S+)/)]);
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '[[sim tokens=20]] Say something about queues.' }] });
    log(`(c) POST /v1/jobs, ${settings.enqueue.clients} keep-alive clients, ${settings.enqueue.durationMs / 1000} s each`);
    const results = await compareEnqueue(
      [
        { name: 'spool', url: `${apiUrl}/v1/jobs` },
        { name: 'raw', url: `${rawMatch[1]}/v1/jobs` },
      ],
      body,
      settings.enqueue,
      (name, perSecond) => log(`(c)   ${name}: ${rate(perSecond, 'req/s')}`),
    );
    await Promise.all([api.stop(), raw.stop()]);
    for (const [name, result] of results) log(`(c)   ${name}: one client at a time, POST latency p50 ${ms(result.soloLatency.p50)} p99 ${ms(result.soloLatency.p99)}`);
    const spool = results.get('spool')!;
    const baseline = results.get('raw')!;
    const value = spool.requestsPerSecond / baseline.requestsPerSecond;
    rows.push({
      figure: `(c) POST /v1/jobs req/s (${settings.enqueue.clients} keep-alive clients, no worker)`,
      spool: rate(spool.requestsPerSecond, 'req/s'),
      baseline: `${rate(baseline.requestsPerSecond, 'req/s')} (Express 5 + queue.add)`,
      comparison: ratio(value),
      goal: '≥ 0.80×',
      met: Number.isFinite(value) ? value >= 0.8 : undefined,
    });
    const line = (name: string, result: typeof spool) =>
      `- ${name}: ${result.accepted} accepted, latency p50 ${ms(result.latency.p50)} p99 ${ms(result.latency.p99)}; ` +
      `with a single client p50 ${ms(result.soloLatency.p50)} p99 ${ms(result.soloLatency.p99)}` +
      (Object.keys(result.failures).length ? `, failures ${JSON.stringify(result.failures)}` : '');
    details.push({ title: '(c) enqueue', lines: [line('Spool API', spool), line('Express + queue.add', baseline)] });
  }

  // Issue 17: what OpenTelemetry tracing costs POST /v1/jobs, measured as (c) is.
  if (runs('tracing')) {
    const figures = await benchTracingCost({ redisUrl, prefix: `${prefix}-tracing`, settings: settings.enqueue, upstreamUrl: simulatorUrl, log, comparisons: settings.quick ? 1 : 3 });
    rows.push(...tracingCostRows(figures));
    details.push(tracingCostDetails(figures));
  }

  // The real stack for (a), (b) and (e): API and worker as deployed, on the run's prefix.
  const maxStreams = Math.max(...settings.saturation.steps);
  // One worker process (BENCH_WORKERS to change it): on two cores shared with the API, Redis, the
  // simulator and the bench, a second one moved (b)'s crossing up about 10% but added about 1 ms
  // to (a)'s p50.
  const workerCount = Number(process.env.BENCH_WORKERS ?? 1);
  if (runs('a') || runs('b') || runs('e')) {
    const apiPort = await freePort();
    const api = track(startChild({ name: 'api', script: 'services/api/src/main.ts', env: spoolEnv(redisUrl, prefix, apiPort, simulatorUrl) }));
    const workers = Array.from({ length: workerCount }, (_, index) =>
      track(
        startChild({
          name: workerCount > 1 ? `worker ${index + 1}` : 'worker',
          script: 'services/worker/src/main.ts',
          env: { ...spoolEnv(redisUrl, prefix, 0, simulatorUrl), WORKER_CONCURRENCY: String(Math.ceil(maxStreams / workerCount)) },
        }),
      ),
    );
    const worker = workers[0];
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForHttp(api, `${apiUrl}/healthz`);
    const chatQueue = createChatQueue(redis, prefix);
    const backlog = async () => {
      const counts = await chatQueue.getJobCounts('active', 'wait', 'prioritized', 'delayed');
      return Object.values(counts).reduce((sum, count) => sum + count, 0);
    };
    const spoolRunner = new SpoolStreamRunner(apiUrl, backlog);
    const sdkRunner = new SdkStreamRunner(simulatorUrl, BENCH_API_KEY);
    // The worker only logs "worker ready" at info; a first job that finishes is the proof it is up.
    const first = await spoolRunner.run('[[sim tokens=5]] are you there?', { timeoutMs: 30_000 });
    if (!first.ok) throw worker.failure(`first job did not finish: ${first.error}`);

    const meter = new CpuMeter(
      () => [simulator, api, ...workers].filter((child) => child.alive).map((child) => ({ name: child.name, pid: child.pid })),
      redis,
    );

    // (a) submit → first delta at light load.
    if (runs('a')) {
      const { concurrency, jobs } = settings.firstToken;
      log(`(a) time to first delta, ${concurrency} concurrent, ${jobs} jobs per side`);
      const results = await measureFirstToken([sdkRunner, spoolRunner], settings.firstToken);
      const spool = results.get('spool')!;
      const sdk = results.get('sdk')!;
      for (const [name, side] of results) {
        log(`(a)   ${name}: p50 ${ms(side.ttfd.p50)} p90 ${ms(side.ttfd.p90)} p99 ${ms(side.ttfd.p99)} max ${ms(side.ttfd.max)}, ${side.errors.length} errors${side.stages ? `; stages p50/p99: ${side.stages}` : ''}`);
      }
      const added50 = spool.ttfd.p50 - sdk.ttfd.p50;
      const added99 = spool.ttfd.p99 - sdk.ttfd.p99;
      const label = `${concurrency} concurrent, ttft ${settings.simulator.ttftMs} ms`;
      rows.push(
        { figure: `(a) submit → first delta p50 (${label})`, spool: ms(spool.ttfd.p50), baseline: `${ms(sdk.ttfd.p50)} (bare SDK)`, comparison: signedMs(added50), goal: '≤ +3 ms', met: Number.isFinite(added50) ? added50 <= 3 : undefined },
        { figure: `(a) submit → first delta p99 (${label})`, spool: ms(spool.ttfd.p99), baseline: `${ms(sdk.ttfd.p99)} (bare SDK)`, comparison: signedMs(added99), goal: '≤ +10 ms', met: Number.isFinite(added99) ? added99 <= 10 : undefined },
      );
      const line = (name: string, side: typeof spool) =>
        `- ${name}: ${side.ttfd.count} jobs, p50 ${ms(side.ttfd.p50)}, p90 ${ms(side.ttfd.p90)}, p99 ${ms(side.ttfd.p99)}, max ${ms(side.ttfd.max)}` +
        (side.errors.length ? `, ${side.errors.length} errors (first: ${side.errors[0]})` : '') +
        (side.stages ? `; stages p50/p99: ${side.stages}` : '');
      details.push({ title: '(a) time to first delta', lines: [line('Spool (POST → first SSE delta)', spool), line('bare openai SDK (call → first content chunk)', sdk)] });
    }

    // (b) delivered tokens/s at saturation.
    if (runs('b')) {
      const { steps, p50LimitMs, refinements } = settings.saturation;
      log(`(b) saturation, steps ${steps.join(', ')} streams, until p50 ttfd > ${p50LimitMs} ms, then ${refinements} bisections`);
      const results = await saturate([sdkRunner, spoolRunner], settings.saturation, {
        cpu: meter,
        onStep: (name, step, note) => log(`(b)   ${describeStep(name.padEnd(5), step)}${note ? ` [${note}]` : ''}`),
      });
      const sdk = results.get('sdk')!;
      const spool = results.get('spool')!;
      const value = (spool.best?.tokensPerSecond ?? Number.NaN) / (sdk.best?.tokensPerSecond ?? Number.NaN);
      rows.push({
        figure: `(b) delivered tokens/s at saturation (${settings.simulator.tokensPerSecond} tok/s streams, p50 ttfd ≤ ${p50LimitMs} ms)`,
        spool: bestText(spool),
        baseline: `${bestText(sdk)} (bare SDK)`,
        comparison: ratio(value),
        goal: '≥ 0.80×',
        met: Number.isFinite(value) ? value >= 0.8 : undefined,
      });
      rows.push(...capacityRows(spool.best, settings.simulator.tokensPerSecond));
      details.push({
        title: '(b) saturation steps',
        lines: [...sdk.steps.map((step) => `- ${describeStep('bare SDK', step)}`), ...spool.steps.map((step) => `- ${describeStep('Spool', step)}`)],
      });
    }

    // Issue 5: the OpenAI door's added latency, on the same API and worker.
    if (runs('e')) {
      const figures = await benchDoor(
        apiUrl,
        simulatorUrl,
        { concurrency: [1, 10, 100], streams: (concurrency) => (settings.quick ? Math.max(20, concurrency * 2) : Math.max(40, concurrency * 2)), prompt: '[[sim tokens=20]]' },
        log,
      );
      rows.push(...doorRows(figures));
    }
    await chatQueue.close();
  }

  // Issue 16: many live watchers of one job on one API process (its own API, then its own worker).
  if (runs('f')) {
    const count = settings.quick ? 1000 : 5000;
    const env = spoolEnv(redisUrl, `${prefix}-watchers`, 0, simulatorUrl);
    log(`(f) ${count} SSE watchers of one job on one API process`);
    const result = await measureWatchers({
      redisUrl,
      env,
      apiKey: BENCH_API_KEY,
      watchers: count,
      prompt: '[[sim tokens=100]] many watchers',
      log: (line) => log(`(f)   ${line}`),
      startWorker: async () => {
        const worker = track(startChild({ name: 'worker (watchers)', script: 'services/worker/src/main.ts', env: { ...env, SPOOL_METRICS_PORT: '0' } }));
        await worker.waitForLine(/worker ready/);
        return () => worker.stop();
      },
    });
    rows.push(...watchersRows(result));
  }

  // Issue 3: 1,000 jobs against an upstream limited to 600 RPM, beside a naive worker.
  if (runs('d')) {
    log('rate limit: Spool vs a naive worker against a 600 RPM upstream');
    const figures = await runRateLimitBench({ redisUrl, log });
    rows.push(...rateLimitRows(figures));
  }

  // Issue 15: 600 jobs against two upstreams of 600 RPM each, beside keys rotated per request.
  if (runs('pools')) {
    log('pools: Spool vs naive key rotation against two 600 RPM upstreams');
    const figures = await runPoolBench({ redisUrl, log });
    rows.push(...poolRows(figures));
  }

  // Issue 14: the noisy neighbour, and the fair scheduler's cost.
  if (runs('fair')) {
    log('fair share: tenant B beside tenant A\'s batch, and the scheduler\'s Redis time per job');
    rows.push(...fairShareRows(await runFairShareBench({ redisUrl, quick: settings.quick, log })));
  }

  // Issue 4: a 10,000-request batch (2,000 in BENCH_QUICK).
  if (runs('batch')) {
    const result = await benchBatch({ redisUrl, requests: settings.quick ? 2000 : 10_000, rounds: settings.quick ? 1 : 3, log });
    rows.push(...batchRows(result));
  }

  // Issue 18: 1,000 requests of which half repeat, without and with `cache` (400 in BENCH_QUICK).
  if (runs('cache')) {
    log('cache: half of the requests repeat, without and with `cache`');
    const result = await benchCache({ redisUrl, requests: settings.quick ? 400 : 1000, log });
    rows.push(...cacheRows(result));
  }

  const warnings = running.flatMap((child) => child.logSummary.map((entry) => `- ${child.name}: ${entry.count}× ${entry.level} "${entry.msg}"`));
  details.push({ title: 'warnings and errors logged by the children', lines: warnings });
  await cleanup();

  const table = renderTable(rows);
  console.log(`\n${table}\n`);
  const resultsPath = `${ROOT}bench/results.md`;
  writeResults(resultsPath, {
    title: `Spool bench (${settings.quick ? 'BENCH_QUICK' : 'full'})`,
    about: [
      `${new Date().toISOString()}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      `${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, Redis ${redisVersion} on 127.0.0.1; 1-min load average ${loadAtStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end (anything above ~0.5 at start means other work shared the cores)`,
      `simulator: ttft ${settings.simulator.ttftMs} ms, ${settings.simulator.tokensPerSecond} tokens/s per stream; API, ${workerCount} worker process(es) (WORKER_CONCURRENCY=${Math.ceil(maxStreams / workerCount)} each), simulator and baseline server are separate processes; Spool at its defaults (info logs, API keys with the per-key rate limit, SQLite store), only addresses and keys set (SPOOL_CLIENT_RPM raised above the bench's own request rate)`,
      `(a) ${settings.firstToken.jobs} jobs per side of \`${settings.firstToken.prompt}\`, ${settings.firstToken.concurrency} at a time, sides alternating in ${settings.firstToken.rounds} rounds`,
      `(b) \`${settings.saturation.prompt}\`, steps ${settings.saturation.steps.join('/')} then ${settings.saturation.refinements} bisections around each side's crossing, ${settings.saturation.windowMs / 1000} s window after a ${settings.saturation.rampMs / 1000} s ramp; tokens counted as they reach the client`,
      `(c) ${settings.enqueue.clients} keep-alive clients, ${settings.enqueue.durationMs / 1000} s per side in ${settings.enqueue.slices} alternating slices, no worker running`,
      `(e) the same openai SDK client through /v1/chat/completions and straight at the simulator, in alternating halves`,
      `(f) ${settings.quick ? 1000 : 5000} SSE watchers of one job on a fresh API process, memory after a full GC over a baseline taken after 200 watchers came and went; the worker starts once all are connected`,
    ],
    table,
    details,
  });
  log(`table written to ${resultsPath}`);
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await cleanup();
  process.exit(1);
}
process.exit(0);
