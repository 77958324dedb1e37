/**
 * Batch figures: a 10,000-request batch against the simulator, timed from submit to `completed`,
 * and the enqueue rate of `POST /v1/batches` beside raw BullMQ `addBulk` of the same jobs, in the
 * same run on the same Redis. Simulator, API and worker run as child processes.
 * Alone: `npx tsx bench/batch.ts` (BATCH_BENCH_REQUESTS to change the size).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { renderTable, type Row } from './report.js';
import { Redis } from 'ioredis';
import { chatJobOptions, createChatQueue } from '@spool/queue';
import { BENCH_AUTH, freePort, spoolEnv, startChild, waitForHttp, type Child } from './processes.js';
import { deleteKeysWithPrefix } from './redis-keys.js';
import { ms, rate, ratio } from './stats.js';

export interface BatchBenchOptions {
  redisUrl: string;
  /** requests in the batch; 10,000 */
  requests?: number;
  /** WORKER_CONCURRENCY of the one worker process; 200 */
  workerConcurrency?: number;
  /** what each request asks the simulator for */
  prompt?: string;
  /** enqueue rounds per side, alternating which goes first; 3 */
  rounds?: number;
  log?: (line: string) => void;
}

export interface BatchBenchResult {
  requests: number;
  /** POST /v1/batches → status `completed`, with one worker process */
  submitToCompletedMs: number;
  /** requests ended per second over that time */
  requestsPerSecond: number;
  /** requests per second accepted by POST /v1/batches (202 received), no worker running */
  endpointEnqueueRate: number;
  /** requests per second of `queue.addBulk` of the same jobs in chunks of 1,000 */
  rawEnqueueRate: number;
  endpointSamples: number[];
  rawSamples: number[];
}

const CHUNK = 1000;

function batchBody(requests: number, prompt: string, tag: string): string {
  const items = Array.from({ length: requests }, (_, i) => ({ custom_id: `r${i}`, body: { messages: [{ role: 'user', content: `${prompt} ${tag} ${i}` }] } }));
  return JSON.stringify({ requests: items });
}

async function postBatch(url: string, body: string): Promise<{ id: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json', ...BENCH_AUTH }, body });
  const text = await response.text();
  if (response.status !== 202) throw new Error(`POST /v1/batches answered ${response.status}: ${text.slice(0, 300)}`);
  return { id: (JSON.parse(text) as { id: string }).id, ms: performance.now() - started };
}

/** What a raw BullMQ producer does for the same batch: `addBulk` of the same jobs and options, nothing else. */
async function rawAddBulk(redis: Redis, prefix: string, requests: number, prompt: string): Promise<number> {
  const queue = createChatQueue(redis, prefix);
  const started = performance.now();
  for (let start = 0; start < requests; start += CHUNK) {
    const jobs = Array.from({ length: Math.min(CHUNK, requests - start) }, (_, i) => {
      const id = `job_${randomUUID().replaceAll('-', '')}`;
      const data = { jobId: id, messages: [{ role: 'user', content: `${prompt} raw ${start + i}` }] };
      return { name: 'chat', data, opts: chatJobOptions(id, { priority: 8, attempts: 5 }) };
    });
    await queue.addBulk(jobs);
  }
  const elapsed = performance.now() - started;
  await queue.close();
  return elapsed;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Runs the batch bench on its own prefixes, stops its children and deletes its keys. */
export async function benchBatch(options: BatchBenchOptions): Promise<BatchBenchResult> {
  const requests = options.requests ?? 10_000;
  const prompt = options.prompt ?? '[[sim tokens=3]]';
  const rounds = options.rounds ?? 3;
  const log = options.log ?? (() => undefined);
  const prefix = `bench-batch-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  const children: Child[] = [];
  const start = (child: Child) => (children.push(child), child);
  try {
    const simulator = start(
      startChild({
        name: 'simulator',
        script: 'packages/simulator/src/main.ts',
        env: { SIMULATOR_PORT: '0', SIMULATOR_HOST: '127.0.0.1', SIMULATOR_TTFT_MS: '0', SIMULATOR_TOKENS_PER_SECOND: '0' },
      }),
    );
    const simulatorUrl = (await simulator.waitForLine(/simulator listening on (\S+)/))[1];

    // Enqueue: an API with no worker against raw addBulk, each on its own prefix, alternating.
    const enqueuePort = await freePort();
    const enqueueApi = start(startChild({ name: 'api (enqueue only)', script: 'services/api/src/main.ts', env: spoolEnv(options.redisUrl, `${prefix}-enqueue`, enqueuePort, simulatorUrl) }));
    const enqueueUrl = `http://127.0.0.1:${enqueuePort}`;
    await waitForHttp(enqueueApi, `${enqueueUrl}/healthz`);
    for (let i = 0; i < 3; i++) {
      await postBatch(enqueueUrl, batchBody(2000, prompt, `warmup${i}`));
      await rawAddBulk(redis, `${prefix}-raw`, 2000, prompt);
    }
    const endpointSamples: number[] = [];
    const rawSamples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const sides = [
        async () => {
          const { ms: elapsed } = await postBatch(enqueueUrl, batchBody(requests, prompt, `enqueue${round}`));
          endpointSamples.push(requests / (elapsed / 1000));
          log(`enqueue round ${round + 1}: POST /v1/batches ${rate(endpointSamples.at(-1)!, 'req/s')} (${ms(elapsed)} for ${requests})`);
        },
        async () => {
          const elapsed = await rawAddBulk(redis, `${prefix}-raw`, requests, prompt);
          rawSamples.push(requests / (elapsed / 1000));
          log(`enqueue round ${round + 1}: raw addBulk ${rate(rawSamples.at(-1)!, 'req/s')} (${ms(elapsed)} for ${requests})`);
        },
      ];
      for (const side of round % 2 === 0 ? sides : sides.reverse()) await side();
    }
    await enqueueApi.stop();

    // Submit → completed: the deployed pair, API and one worker process.
    const port = await freePort();
    const env = spoolEnv(options.redisUrl, prefix, port, simulatorUrl);
    const api = start(startChild({ name: 'api', script: 'services/api/src/main.ts', env }));
    const worker = start(
      startChild({ name: 'worker', script: 'services/worker/src/main.ts', env: { ...env, PORT: '0', WORKER_CONCURRENCY: String(options.workerConcurrency ?? 200) } }),
    );
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(api, `${url}/healthz`);
    // The worker is up once a small batch completes.
    const probe = await postBatch(url, batchBody(10, prompt, 'probe'));
    await waitForBatch(url, probe.id, worker, 30_000);

    const body = batchBody(requests, prompt, 'run');
    const started = performance.now();
    const { id } = await postBatch(url, body);
    const batch = await waitForBatch(url, id, worker, 600_000, (counts) => log(`run: ${counts.completed + counts.failed}/${counts.total} ended`));
    const submitToCompletedMs = performance.now() - started;
    if (batch.request_counts.failed) log(`run: ${batch.request_counts.failed} requests failed`);
    return {
      requests,
      submitToCompletedMs,
      requestsPerSecond: requests / (submitToCompletedMs / 1000),
      endpointEnqueueRate: median(endpointSamples),
      rawEnqueueRate: median(rawSamples),
      endpointSamples,
      rawSamples,
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await deleteKeysWithPrefix(redis, prefix).catch(() => 0);
    redis.disconnect();
  }
}

interface BatchState {
  status: string;
  request_counts: { total: number; completed: number; failed: number };
}

async function waitForBatch(url: string, id: string, worker: Child, timeoutMs: number, onProgress?: (counts: BatchState['request_counts']) => void): Promise<BatchState> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  for (;;) {
    const batch = (await (await fetch(`${url}/v1/batches/${id}`, { headers: BENCH_AUTH })).json()) as BatchState;
    if (batch.status === 'completed') return batch;
    if (!worker.alive) throw worker.failure('exited while the batch ran');
    if (Date.now() > deadline) throw new Error(`batch ${id} not completed in ${timeoutMs} ms: ${JSON.stringify(batch.request_counts)}`);
    if (onProgress && Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      onProgress(batch.request_counts);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The figures as rows of the bench's Markdown table. */
export function batchRows(result: BatchBenchResult): Row[] {
  const enqueueRatio = result.endpointEnqueueRate / result.rawEnqueueRate;
  return [
    {
      figure: `${result.requests.toLocaleString('en-US')}-request batch, submit → completed`,
      spool: `${(result.submitToCompletedMs / 1000).toFixed(1)} s (${rate(result.requestsPerSecond, 'req/s')})`,
      baseline: '',
      comparison: '',
      goal: '',
    },
    {
      figure: 'batch enqueue rate (POST /v1/batches vs raw addBulk)',
      spool: rate(result.endpointEnqueueRate, 'req/s'),
      baseline: `${rate(result.rawEnqueueRate, 'req/s')} (raw addBulk)`,
      comparison: ratio(enqueueRatio),
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
  const requests = Number(process.env.BATCH_BENCH_REQUESTS ?? 10_000);
  try {
    const result = await benchBatch({ redisUrl, requests, log: (line) => console.error(`bench: ${line}`) });
    console.log(`\n${renderTable(batchRows(result))}\n`);
    process.exit(0);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
