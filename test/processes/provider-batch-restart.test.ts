/**
 * Issue 18: a provider batch's polling state lives in Redis, so a worker process killed while it
 * polls (`kill -9`) loses nothing: another worker process takes the batch over, collects the
 * upstream batch's output and ends every job once, without creating a second upstream batch or
 * calling upstream live.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { simulateReply } from '@spool/simulator';
import { REDIS_URL, startStack, type Stack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';
import { startWorkerProcess, type Child } from '../support/processes.js';
import { Receiver } from '../support/receiver.js';

const MODEL = 'gpt-4o-mini';
const messages = (content: string) => [{ role: 'user', content }];

describe('a worker restart while a provider batch is polled', () => {
  let stack: Stack;
  let receiver: Receiver;
  const children: Child[] = [];

  beforeEach(async () => {
    receiver = new Receiver();
    await receiver.listen();
    // No worker in here: the workers are the child processes the test starts and kills.
    stack = await startStack({ workers: 0, simulator: { batchDelayMs: 3000 }, env: { SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });

  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop('SIGKILL')));
    await stack?.close();
    await receiver?.close();
  });

  async function startWorker(): Promise<Child> {
    const child = await startWorkerProcess({
      REDIS_URL,
      SPOOL_PREFIX: stack.config.prefix,
      OPENAI_BASE_URL: stack.simulatorUrl,
      SPOOL_STORE_URL: stack.config.storeUrl,
      SPOOL_METRICS_PORT: '0',
      SPOOL_LOCK_MS: '2000',
      SPOOL_PROVIDER_BATCH_POLL_MS: '100',
      SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    children.push(child);
    return child;
  }

  async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('kill -9 mid-poll: another worker process finishes the batch, every job ended once, one upstream batch, no live call', async () => {
    let chatCalls = 0;
    stack.simulator.events.on('request', () => chatCalls++);
    const first = await startWorker();

    const total = 300;
    const content = (index: number) => `[[sim tokens=4]] restart ${index}`;
    const requests = Array.from({ length: total }, (_, index) => ({ custom_id: `r${index}`, body: { messages: messages(content(index)) } }));
    const hook = receiver.on('/restart-done');
    const created = (await postJson(`${stack.url}/v1/batches`, { requests, completion_window: '24h', webhook: { url: hook } })).body;
    expect(created.mode).toBe('provider');

    // Polled at least twice: the upstream batch exists and the poller waits between polls.
    const stateKey = stack.api.deps.keys.providerBatch(created.id);
    await until(() => stack.api.deps.redis.hget(stateKey, 'polls'), (polls) => Number(polls) >= 2, 'two polls');
    expect(await stack.api.deps.redis.hget(stateKey, 'phase')).toBe('poll');
    const upstream = new OpenAI({ baseURL: stack.simulatorUrl, apiKey: 'sk-test', maxRetries: 0 });
    const polled = await upstream.batches.retrieve((await stack.api.deps.redis.hget(stateKey, 'upstream_batch_id'))!);
    expect(polled.status).toBe('in_progress');
    await first.stop('SIGKILL');

    await startWorker();
    const done = await until(
      async () => (await getJson(`${stack.url}/v1/batches/${created.id}`)).body,
      (batch) => batch.status === 'completed',
      'the batch to complete',
    );
    expect(done).toMatchObject({ mode: 'provider', request_counts: { total, completed: total, failed: 0 } });

    const text = await (await fetch(`${stack.url}/v1/batches/${created.id}/results`)).text();
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(total);
    for (const line of lines) {
      const index = Number(line.custom_id.slice(1));
      expect(line.result.content).toBe(simulateReply({ model: MODEL, messages: messages(content(index)) }).content);
    }
    const job = (await getJson(`${stack.url}/v1/jobs/${lines[0].job_id}`)).body;
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });

    const upstreamBatches = (await upstream.batches.list({ limit: 100 })).data.filter((batch) => batch.metadata?.spool_batch_id === created.id);
    expect(upstreamBatches.map((batch) => batch.status)).toEqual(['completed']);
    expect(chatCalls).toBe(0);
    const [delivery] = await receiver.waitFor('/restart-done');
    expect(JSON.parse(delivery.body)).toMatchObject({ type: 'batch.completed', data: { id: created.id } });
  }, 120_000);
});
