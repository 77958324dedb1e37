/**
 * The provider-batch poller's steps, driven one at a time against the real simulator and Redis
 * (no worker runs them here): how long it waits, what it does after a crash between creating the
 * upstream batch and noting it, and when it gives the requests to the chat queue instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderBatchClient } from '@spool/llm';
import { postJson } from '../../../test/support/http.js';
import { silentLogger, startStack, type Stack } from '../../../test/support/stack.js';
import { ProviderBatchPoller, SPOOL_BATCH_KEY } from './provider-batch-poller.js';
import { ProviderBatchStates } from './provider-batch-state.js';

const POLL_MS = 1000;

describe('ProviderBatchPoller', () => {
  let stack: Stack;

  beforeAll(async () => {
    // The upstream batches never finish within a test: each test looks at the steps before that.
    stack = await startStack({ workers: 0, simulator: { batchDelayMs: 600_000 }, env: { SPOOL_PROVIDER_BATCH_POLL_MS: String(POLL_MS) } });
  });
  afterAll(async () => stack?.close());

  /** A poller on the stack's connections whose upstream is at `baseURL` (the simulator's by default). */
  function poller(baseURL = stack.simulatorUrl, options: { deadlineMs?: number } = {}) {
    const { redis, keys, jobs, batches, scheduler } = stack.api.deps;
    const states = new ProviderBatchStates(redis, keys);
    const client = new ProviderBatchClient({ baseURL, apiKey: 'sk-test' });
    return { states, poller: new ProviderBatchPoller({ config: stack.config, logger: silentLogger, redis, keys, jobs, batches, states, scheduler, clientFor: () => client, ...options }) };
  }

  async function submit(count = 3): Promise<string> {
    const requests = Array.from({ length: count }, (_, index) => ({ custom_id: `r${index}`, body: { messages: [{ role: 'user', content: `poller ${index} ${Math.random()}` }] } }));
    const created = await postJson(`${stack.url}/v1/batches`, { requests, completion_window: '24h' });
    expect(created.body.mode).toBe('provider');
    return created.body.id;
  }

  const upstreamBatchesOf = async (batchId: string): Promise<{ status: string }[]> => {
    const page = (await (await fetch(`${stack.simulatorUrl}/batches?limit=100`)).json()) as { data: { status: string; metadata: Record<string, string> | null }[] };
    return page.data.filter((batch) => batch.metadata?.[SPOOL_BATCH_KEY] === batchId);
  };
  const queued = async (batchId: string) => {
    const ids = await stack.api.deps.batches.jobIds(batchId, 0, 1000);
    // in their tenant's line (no worker runs here to release them), or already on the queue
    const { redis, keys, queue } = stack.api.deps;
    const entries = await Promise.all(ids.map(async (id) => (await redis.zscore(keys.tenantWaiting('default'), id)) !== null || Boolean(await queue.getJob(id))));
    return entries.filter(Boolean).length;
  };

  it('uploads and creates in one step, then polls waiting twice as long each time', async () => {
    const batchId = await submit();
    const { poller: subject, states } = poller();
    expect(await subject.step(batchId)).toEqual({ next: 'wait', delayMs: POLL_MS });
    const state = await states.get(batchId);
    expect(state).toMatchObject({ phase: 'poll', creating: false, polls: 0, fileId: expect.stringMatching(/^file-/), upstreamBatchId: expect.stringMatching(/^batch_/) });
    const delays = [];
    for (let poll = 0; poll < 4; poll++) delays.push(((await subject.step(batchId)) as { delayMs: number }).delayMs);
    expect(delays).toEqual([2 * POLL_MS, 4 * POLL_MS, 8 * POLL_MS, 16 * POLL_MS]);
    expect(await upstreamBatchesOf(batchId)).toHaveLength(1);
    expect(await queued(batchId)).toBe(0);
  });

  it('adopts the upstream batch a crashed worker created but never noted, instead of creating a second', async () => {
    const batchId = await submit();
    const { poller: subject, states } = poller();
    await subject.step(batchId);
    const created = await states.get(batchId);
    // The crash: the create went out, its answer was never written down.
    await stack.api.deps.redis.hdel(stack.api.deps.keys.providerBatch(batchId), 'upstream_batch_id');
    await states.update(batchId, { ...created, upstreamBatchId: undefined }, { phase: 'create', creating: true });

    expect(await subject.step(batchId)).toEqual({ next: 'wait', delayMs: POLL_MS });
    expect((await states.get(batchId)).upstreamBatchId).toBe(created.upstreamBatchId);
    expect(await upstreamBatchesOf(batchId)).toHaveLength(1);
  });

  it('runs the batch live when the upstream has no Batch API (404), and sends completion_window batches live for a while', async () => {
    const batchId = await submit(4);
    const { poller: subject } = poller(`${stack.simulatorUrl}/no-batch-api`);
    expect(await subject.step(batchId)).toEqual({ next: 'done' });
    const batch = await stack.api.deps.batches.get(batchId);
    expect(batch?.mode).toBe('live');
    expect(await queued(batchId)).toBe(4);
    expect(await stack.api.deps.redis.ttl(stack.api.deps.keys.providerBatchUnsupported('default'))).toBeGreaterThan(0);

    const next = await postJson(`${stack.url}/v1/batches`, { requests: [{ custom_id: 'x', body: { messages: [{ role: 'user', content: 'x' }] } }], completion_window: '24h' });
    expect(next.body.mode).toBe('live');
    await stack.api.deps.redis.del(stack.api.deps.keys.providerBatchUnsupported('default'));
  });

  it('tries again with backoff while the upstream fails, then runs the requests live', async () => {
    const batchId = await submit(2);
    // Nothing listens on port 9: every call fails to connect, a retryable failure.
    const { poller: subject, states } = poller('http://127.0.0.1:9/v1');
    const steps = [];
    for (let step = await subject.step(batchId); step.next === 'wait'; step = await subject.step(batchId)) {
      steps.push(step.delayMs);
      expect(steps.length).toBeLessThan(20);
    }
    expect(steps).toHaveLength(7);
    expect(steps.every((delay) => delay > 0 && delay <= 60_000)).toBe(true);
    expect(await queued(batchId)).toBe(2);
    expect((await stack.api.deps.batches.get(batchId))?.mode).toBe('provider');
    expect((await states.get(batchId)).phase).toBe('done');
    expect(await subject.step(batchId)).toEqual({ next: 'done' });
  });

  it('gives up on an upstream batch that is still running past its deadline: cancels it and runs the requests live', async () => {
    const batchId = await submit(3);
    // A deadline already passed at the first poll: the upstream batch (600 s here) would otherwise be polled for good.
    const { poller: subject, states } = poller(undefined, { deadlineMs: 0 });
    expect(await subject.step(batchId)).toEqual({ next: 'wait', delayMs: POLL_MS });
    expect(await subject.step(batchId)).toEqual({ next: 'done' });
    const [upstreamBatch] = await upstreamBatchesOf(batchId);
    expect(['cancelling', 'cancelled']).toContain(upstreamBatch.status);
    expect(await queued(batchId)).toBe(3);
    expect((await states.get(batchId)).phase).toBe('done');
  });

  it('ends after the Spool batch is cancelled, cancelling the upstream batch', async () => {
    const batchId = await submit(2);
    const { poller: subject } = poller();
    await subject.step(batchId);
    expect((await postJson(`${stack.url}/v1/batches/${batchId}/cancel`, {})).status).toBe(200);
    expect(await subject.step(batchId)).toEqual({ next: 'done' });
    const [upstreamBatch] = await upstreamBatchesOf(batchId);
    expect(['cancelling', 'cancelled']).toContain(upstreamBatch.status);
    expect(await queued(batchId)).toBe(0);
  });
});
