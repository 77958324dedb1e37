/**
 * A SIGTERM while Redis is down ends the process within a bound (issue 12, low): Redis here is a
 * private redis-server that the test kills, never the shared one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrivateRedis } from '../support/redis-server.js';
import { startStack, type Stack } from '../support/stack.js';
import { postJson, readEvents } from '../support/http.js';
import { startApiProcess, startWorkerProcess, type Child } from '../support/processes.js';

/** The worker's 20 s stop deadline (grace, webhook timeout, hand-back), and a margin for a busy machine. */
const WORKER_STOP_BOUND_MS = 30_000;
/** The API has nothing to wait for once Redis is gone: its commands fail fast. */
const API_STOP_BOUND_MS = 10_000;

/** The exit code, or 'still running' if the process has not exited within `ms`. */
async function exitWithin(child: Child, ms: number): Promise<number | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), ms)));
  try {
    return await Promise.race([child.stop('SIGTERM'), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('SIGTERM while Redis is down', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  const children: Child[] = [];

  beforeEach(async () => {
    redis = await PrivateRedis.start();
    // The API and the simulator run in this process; the worker under test is a real process.
    stack = await startStack({ workers: 0, simulator: { tokensPerSecond: 10 }, env: { REDIS_URL: redis.url } });
  });

  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop('SIGKILL')));
    await stack.close();
    await redis.stop();
  });

  const env = (): Record<string, string> => ({
    REDIS_URL: redis.url,
    SPOOL_PREFIX: stack.config.prefix,
    SPOOL_STORE_URL: stack.config.storeUrl,
    OPENAI_BASE_URL: stack.simulatorUrl,
    SPOOL_METRICS_PORT: '0',
  });

  it('a worker streaming a job exits within its stop deadline, with code 1 and a line saying why', async () => {
    const worker = await startWorkerProcess(env());
    children.push(worker);
    // 60 s at 10 tokens/s: still streaming when the grace runs out.
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim tokens=600]] a long one' }] })).body;
    const events = await readEvents(`${stack.url}${job.stream_url}`, { limit: 3 });
    expect(events.map((event) => event.event)).toContain('delta');

    await redis.kill('SIGKILL');
    const code = await exitWithin(worker, WORKER_STOP_BOUND_MS);
    expect(code, worker.output.join('\n')).toBe(1);
    expect(worker.output.join('\n')).toMatch(/stop timed out/);
  }, 60_000);

  it('a worker whose Redis comes back during its grace still hands its job back, and exits within its deadline', async () => {
    const worker = await startWorkerProcess(env());
    children.push(worker);
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim tokens=600]] back in time' }] })).body;
    await readEvents(`${stack.url}${job.stream_url}`, { limit: 3 });

    await redis.kill('SIGKILL');
    const code = exitWithin(worker, WORKER_STOP_BOUND_MS);
    await worker.waitFor(/worker stopping/);
    await redis.resume();
    // BullMQ's close, begun while Redis was down, never ends (taskforcesh/bullmq#4656): the deadline ends the process.
    expect(await code, worker.output.join('\n')).not.toBe('still running');
    expect(worker.output.join('\n')).toMatch(/job handed back/);
    expect(await stack.api.deps.queue.getJobState(job.id)).toBe('delayed');
  }, 60_000);

  it('an idle API exits cleanly within a few seconds', async () => {
    const { child: api } = await startApiProcess(env());
    children.push(api);
    await redis.kill('SIGKILL');
    const code = await exitWithin(api, API_STOP_BOUND_MS);
    expect(code, api.output.join('\n')).toBe(0);
  }, 60_000);
});
