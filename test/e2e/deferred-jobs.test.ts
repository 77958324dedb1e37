/**
 * Jobs waiting out a delay hold no worker slot (API.md §12, §13): two upstreams, `a` serving only
 * gpt-4o and `b` only gpt-4o-mini, three worker slots. More gpt-4o jobs than there are slots, two
 * of each tenant, wait (handed back while `a` is paused by a 429, or backing off after its
 * 500s); jobs for gpt-4o-mini of both tenants still go to `b` at once. (A tenant with as many
 * jobs waiting as the fleet has slots waits too: the scheduler's own test shows that.)
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAT_QUEUE, queuePrefix, type RedisClient } from '@spool/queue';
import { startPoolStack, type PoolStack } from '../support/pool-stack.js';
import { testRedis } from '../support/stack.js';
import { postJson } from '../support/http.js';

const KEY = { alpha: 'alpha-key-0000000000000000', beta: 'beta-key-00000000000000000' };
const auth = (tenant: keyof typeof KEY) => ({ authorization: `Bearer ${KEY[tenant]}` });
const SLOTS = 3;
/** how long gpt-4o jobs wait: `a`'s pause, or their backoff's ceiling (they back off half of it at least) */
const WAIT_MS = 60_000;

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Pool {
  stack: PoolStack;
  /** the chat queue, to see the jobs waiting in its delayed set */
  queue: Queue;
}

/** The two upstreams, two tenants and three worker slots, for the tests of the enclosing describe block. */
function usePool(env: Record<string, string> = {}): Pool {
  const pool = {} as Pool;
  let redis: RedisClient | undefined;
  beforeAll(async () => {
    pool.stack = await startPoolStack({
      env: { WORKER_CONCURRENCY: String(SLOTS), ...env },
      upstreams: [
        { name: 'a', simulator: { tokensPerSecond: 1000, models: ['gpt-4o'] }, settings: { models: ['gpt-4o'] } },
        { name: 'b', simulator: { tokensPerSecond: 1000, models: ['gpt-4o-mini'] }, settings: { models: ['gpt-4o-mini'] } },
      ],
      tenants: { alpha: { keys: [KEY.alpha] }, beta: { keys: [KEY.beta] } },
    });
    redis = await testRedis();
    pool.queue = new Queue(CHAT_QUEUE, { connection: redis, prefix: queuePrefix(pool.stack.config.prefix) });
  });
  afterAll(async () => {
    await pool.queue?.close();
    redis?.disconnect();
    await pool.stack?.close();
  });
  return pool;
}

/** Submits a job; with `wait`, answers it once it ended (or as it stands after 20 s). */
async function submit(stack: PoolStack, tenant: keyof typeof KEY, model: string, content: string, wait = false): Promise<any> {
  const response = await postJson(`${stack.url}/v1/jobs${wait ? '?wait=20' : ''}`, { model, messages: [{ role: 'user', content: `${content} ${randomUUID()}` }] }, auth(tenant));
  // with ?wait, a job not ended in time is answered 202 as it stands (and fails the test where it is checked)
  if (!wait) expect(response.status, JSON.stringify(response.body)).toBe(202);
  return response.body;
}

/** With gpt-4o jobs waiting in every worker slot's stead: jobs of both tenants for gpt-4o-mini all run on `b`, at once. */
async function expectOthersRunAtOnce({ stack }: Pool, since: number): Promise<void> {
  const runs = await Promise.all(
    (['alpha', 'beta'] as const).flatMap((tenant) => Array.from({ length: SLOTS + 1 }, (_, i) => submit(stack, tenant, 'gpt-4o-mini', `${tenant} on b #${i}`, true))),
  );
  for (const job of runs) {
    expect(job.status).toBe('succeeded');
    expect(job.attempt_log.map((entry: any) => entry.upstream)).toEqual(['b']);
  }
  // At once: long before the gpt-4o jobs' wait ends (generous: half of it).
  expect(Date.now() - since).toBeLessThan(WAIT_MS / 2);
}

describe('jobs handed back while their only upstream is paused', () => {
  const pool = usePool();

  it('hold no worker slot: jobs of either tenant for a model the other upstream serves all run there at once', async () => {
    const { stack, queue } = pool;
    const pausedAt = Date.now();
    await submit(stack, 'alpha', 'gpt-4o', `[[sim status=429 retry_after_ms=${WAIT_MS} on=a]] first`);
    // Handed back once `a` is paused: the next ones find it paused.
    await until(async () => (await queue.getDelayedCount()) === 1);
    for (const tenant of ['alpha', 'beta', 'beta'] as const) await submit(stack, tenant, 'gpt-4o', `${tenant} paused`);
    // At least as many jobs as there are worker slots wait out `a`'s pause, handed back.
    await until(async () => (await queue.getDelayedCount()) >= SLOTS);

    await expectOthersRunAtOnce(pool, pausedAt);
    // No call reached `a` inside its pause.
    expect(stack.calls.filter((call) => call.upstream === 'a')).toHaveLength(1);
  }, 60_000);
});

describe('jobs backing off before a retry', () => {
  // The first retry waits half its ceiling to all of it, the ceiling capped at 60 s (backoff.ts): 30 to 60 s.
  const pool = usePool({ SPOOL_BACKOFF_MS: String(2 * WAIT_MS) });

  it('hold no worker slot: jobs of either tenant for a model the other upstream serves all run there at once', async () => {
    const { stack, queue } = pool;
    const since = Date.now();
    // One each slot and one more; fewer than the 5 failures in a row that take `a` out.
    for (const tenant of ['alpha', 'alpha', 'beta', 'beta'] as const) await submit(stack, tenant, 'gpt-4o', `[[sim status=500 on=a]] ${tenant} failing`);
    // At least as many jobs as there are worker slots back off.
    await until(async () => (await queue.getDelayedCount()) >= SLOTS);

    await expectOthersRunAtOnce(pool, since);
    // Each called `a` once, and waits for its retry.
    expect(stack.calls.filter((call) => call.upstream === 'a')).toHaveLength(4);
  }, 60_000);
});
