/**
 * Issue 18, the provider's Batch API (API.md §14): a batch submitted with `completion_window`
 * goes through the simulator's `/v1/files` and `/v1/batches`, its results equal a live run's, and
 * whatever the upstream batch does not answer (a retryable line error, a batch that expired or
 * failed) runs as ordinary jobs. Cancel reaches the upstream batch.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { startStack, type Stack } from '../support/stack.js';
import { getJson, joinDeltas, postJson, readEvents } from '../support/http.js';
import { Receiver } from '../support/receiver.js';

const MODEL = 'gpt-4o-mini';
/** $/Mtok in the configuration below; a provider line costs half (the default batch_discount). */
const PRICES = { input: 0.15, output: 0.6 };
const messages = (content: string) => [{ role: 'user', content }];
const reply = (content: string) => simulateReply({ model: MODEL, messages: messages(content) });

/** A SPOOL_CONFIG with the model's prices, in a folder removed after the tests. */
function pricesConfig(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'spool-provider-batch-'));
  const path = join(dir, 'spool.json');
  // MODEL's batch_discount is the default (0.5); gpt-4o's is set.
  const models = {
    [MODEL]: { input_usd_per_mtok: PRICES.input, output_usd_per_mtok: PRICES.output },
    'gpt-4o': { input_usd_per_mtok: PRICES.input, output_usd_per_mtok: PRICES.output, batch_discount: 0.25 },
  };
  writeFileSync(path, JSON.stringify({ models }));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function waitForEnd(stack: Stack, id: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = (await getJson(`${stack.url}/v1/batches/${id}`)).body;
    if (batch.status === 'completed' || batch.status === 'cancelled') return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function results(stack: Stack, id: string): Promise<Map<string, any>> {
  const text = await (await fetch(`${stack.url}/v1/batches/${id}/results`)).text();
  const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
  return new Map(lines.map((line) => [line.custom_id, line]));
}

/** Chat completion calls the simulator answered live, and the Batch API batches it saw, by status. */
function watchSimulator(stack: Stack) {
  const seen = { chatCalls: 0, batches: new Map<string, string>() };
  stack.simulator.events.on('request', () => seen.chatCalls++);
  stack.simulator.events.on('batch', (event: { id: string; status: string }) => seen.batches.set(event.id, event.status));
  return seen;
}

describe('batches through the provider Batch API', () => {
  let stack: Stack;
  let receiver: Receiver;
  let config: { path: string; remove(): void };
  let simulator: ReturnType<typeof watchSimulator>;

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.listen();
    config = pricesConfig();
    stack = await startStack({
      simulator: { tokensPerSecond: 0, batchDelayMs: 300 },
      env: {
        SPOOL_CONFIG: config.path,
        WORKER_CONCURRENCY: '200',
        // Thousands of jobs on two shared cores: a 2 s lock could lapse and hand a job to a second attempt.
        SPOOL_LOCK_MS: '30000',
        SPOOL_PROVIDER_BATCH_POLL_MS: '100',
        SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true',
      },
    });
    simulator = watchSimulator(stack);
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
    config?.remove();
  });

  it('runs a 2,000-request batch through the Batch API: the same results as a live run, at half the price, and one webhook', async () => {
    const total = 2000;
    const content = (index: number) => `[[sim tokens=${3 + (index % 5)}]] provider ${index}`;
    const requests = Array.from({ length: total }, (_, index) => ({ custom_id: `req-${index}`, body: { messages: messages(content(index)) } }));
    const hook = receiver.on('/provider-done');

    const callsBefore = simulator.chatCalls;
    const provider = await postJson(`${stack.url}/v1/batches`, { requests, completion_window: '24h', webhook: { url: hook } });
    expect(provider.status).toBe(202);
    expect(provider.body).toMatchObject({ object: 'batch', status: 'in_progress', mode: 'provider', cost_usd: 0, request_counts: { total, completed: 0, failed: 0 } });
    const providerDone = await waitForEnd(stack, provider.body.id);
    expect(providerDone).toMatchObject({ status: 'completed', mode: 'provider', request_counts: { total, completed: total, failed: 0 } });
    expect(simulator.chatCalls - callsBefore).toBe(0); // not one request went upstream live
    expect([...simulator.batches.values()]).toContain('completed');

    const live = await postJson(`${stack.url}/v1/batches`, { requests });
    expect(live.body.mode).toBe('live');
    const liveDone = await waitForEnd(stack, live.body.id);
    expect(liveDone.request_counts).toEqual({ total, completed: total, failed: 0 });
    expect(simulator.chatCalls - callsBefore).toBe(total);

    const viaProvider = await results(stack, provider.body.id);
    const viaLive = await results(stack, live.body.id);
    expect(viaProvider.size).toBe(total);
    let liveCost = 0;
    for (const [customId, line] of viaLive) {
      const other = viaProvider.get(customId);
      expect(other.status).toBe('succeeded');
      expect(other.result).toEqual(line.result);
      expect(other.job_id).not.toBe(line.job_id);
      liveCost += (line.result.usage.prompt_tokens * PRICES.input + line.result.usage.completion_tokens * PRICES.output) / 1e6;
    }
    expect(viaProvider.get('req-7').result.content).toBe(reply(content(7)).content);
    expect(liveDone.cost_usd).toBeCloseTo(liveCost, 6);
    expect(providerDone.cost_usd).toBeCloseTo(liveCost / 2, 6);

    // Each request keeps its own job: its record, and a stream whose deltas are its result.
    const sample = viaProvider.get('req-11');
    const job = (await getJson(`${stack.url}/v1/jobs/${sample.job_id}`)).body;
    expect(job).toMatchObject({ status: 'succeeded', batch_id: provider.body.id, attempts: 1, result: sample.result });
    const events = await readEvents(`${stack.url}${job.stream_url}`);
    expect(events.map((event) => event.event)).toEqual(['status', 'status', 'delta', 'done']);
    expect(joinDeltas(events)).toBe(sample.result.content);
    const stored = await stack.store.getJob(sample.job_id, 'default');
    expect(stored?.result).toEqual(sample.result);

    const [delivery] = await receiver.waitFor('/provider-done');
    expect(JSON.parse(delivery.body)).toMatchObject({ type: 'batch.completed', data: { id: provider.body.id, mode: 'provider', status: 'completed' } });
  }, 180_000);

  it('takes ?completion_window=24h with a JSONL body, and refuses any other value with a 400 naming the field', async () => {
    const jsonl = ['a', 'b', 'c'].map((id) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: messages(`jsonl ${id}`) } })).join('\n');
    const post = (query: string, body: string, type = 'application/jsonl') => fetch(`${stack.url}/v1/batches${query}`, { method: 'POST', headers: { 'content-type': type }, body });
    const accepted = await post('?completion_window=24h', jsonl);
    expect(accepted.status).toBe(202);
    const created = await accepted.json();
    expect(created.mode).toBe('provider');
    const done = await waitForEnd(stack, created.id);
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    expect((await results(stack, created.id)).get('b').result.content).toBe(reply('jsonl b').content);

    for (const response of [
      await post('?completion_window=1h', jsonl),
      await post('', JSON.stringify({ requests: [{ custom_id: 'x', body: { messages: messages('x') } }], completion_window: '48h' }), 'application/json'),
    ]) {
      expect(response.status).toBe(400);
      expect((await response.json()).error).toMatchObject({ type: 'invalid_request_error', param: 'completion_window' });
    }
  });

  it('refuses a 2,000-line batch half of whose lines are invalid, naming the first, and sends nothing upstream', async () => {
    const batchesBefore = simulator.batches.size;
    const newestJob = async () => (await getJson(`${stack.url}/v1/jobs?limit=1`)).body.data[0]?.id;
    const newestBefore = await newestJob();
    const jsonl = Array.from({ length: 2000 }, (_, index) =>
      JSON.stringify({ custom_id: `h${index}`, method: 'POST', url: '/v1/chat/completions', body: { messages: messages(`half ${index}`), ...(index % 2 === 1 && { temperature: 5 }) } }),
    ).join('\n');
    const response = await fetch(`${stack.url}/v1/batches?completion_window=24h`, { method: 'POST', headers: { 'content-type': 'application/jsonl' }, body: jsonl });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatchObject({ type: 'invalid_request_error', param: expect.stringMatching(/^line 2\b/) });
    expect(await newestJob()).toBe(newestBefore);
    expect(simulator.batches.size).toBe(batchesBefore);
  });

  it('runs live the lines the upstream batch failed in a retryable way (5xx, 429), and fails those it refused (400)', async () => {
    const tag = randomUUID();
    const texts = {
      ok: `fine ${tag}`,
      server: `[[sim status=500 times=1]] server ${tag}`,
      limited: `[[sim status=429 times=1]] limited ${tag}`,
      refused: `[[sim status=400]] refused ${tag}`,
    };
    const requests = Object.entries(texts).map(([customId, text]) => ({ custom_id: customId, body: { messages: messages(text) } }));
    const callsBefore = simulator.chatCalls;
    const created = (await postJson(`${stack.url}/v1/batches`, { requests, completion_window: '24h' })).body;
    const done = await waitForEnd(stack, created.id);
    expect(done).toMatchObject({ status: 'completed', mode: 'provider', request_counts: { total: 4, completed: 3, failed: 1 } });
    expect(simulator.chatCalls - callsBefore).toBe(2); // the 500 and the 429, once each, live

    const lines = await results(stack, created.id);
    for (const name of ['ok', 'server', 'limited'] as const) {
      expect(lines.get(name)).toMatchObject({ status: 'succeeded', result: { content: reply(texts[name]).content } });
    }
    expect(lines.get('refused')).toMatchObject({ status: 'failed', result: null, error: { code: 'invalid_upstream_request' } });
  });

  it.each(['expired', 'failed'])('runs every request live when the upstream batch %s; all end succeeded', async (fault) => {
    const tag = randomUUID();
    const texts = Array.from({ length: 6 }, (_, index) => (index === 2 ? `[[sim batch=${fault}]] ${tag} ${index}` : `${tag} ${index}`));
    const callsBefore = simulator.chatCalls;
    const created = (await postJson(`${stack.url}/v1/batches`, { requests: texts.map((text, index) => ({ custom_id: `r${index}`, body: { messages: messages(text) } })), completion_window: '24h' })).body;
    const done = await waitForEnd(stack, created.id);
    expect(done).toMatchObject({ status: 'completed', mode: 'provider', request_counts: { total: 6, completed: 6, failed: 0 } });
    expect(simulator.chatCalls - callsBefore).toBe(6);
    const lines = await results(stack, created.id);
    texts.forEach((text, index) => expect(lines.get(`r${index}`).result.content).toBe(reply(text).content));
    // Live jobs cost the full price.
    const full = [...lines.values()].reduce((sum, line) => sum + (line.result.usage.prompt_tokens * PRICES.input + line.result.usage.completion_tokens * PRICES.output) / 1e6, 0);
    expect(done.cost_usd).toBeCloseTo(full, 6);
  });

  it('answers from the cache the requests with `cache` whose reply is cached, sends only the rest upstream, and caches what comes back', async () => {
    const tag = randomUUID();
    const cache = { ttl_s: 600 };
    const first = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(`cached ${tag}`), cache })).body;
    expect(first).toMatchObject({ status: 'succeeded', cached: false });
    const callsBefore = simulator.chatCalls;
    const requests = [
      { custom_id: 'hit-1', body: { messages: messages(`cached ${tag}`), cache } },
      { custom_id: 'hit-2', body: { messages: messages(`cached ${tag}`), cache } },
      { custom_id: 'uncached', body: { messages: messages(`cached ${tag}`) } },
      { custom_id: 'new', body: { messages: messages(`new ${tag}`), cache } },
    ];
    const created = (await postJson(`${stack.url}/v1/batches`, { requests, completion_window: '24h' })).body;
    expect(created.mode).toBe('provider');
    const done = await waitForEnd(stack, created.id);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 4, completed: 4, failed: 0 } });
    const lines = await results(stack, created.id);
    for (const name of ['hit-1', 'hit-2']) {
      expect(lines.get(name).result).toEqual(first.result);
      expect((await getJson(`${stack.url}/v1/jobs/${lines.get(name).job_id}`)).body).toMatchObject({ cached: true, cost_usd: 0 });
    }
    const upstream = new OpenAI({ baseURL: stack.simulatorUrl, apiKey: 'sk-test', maxRetries: 0 });
    const [upstreamBatch] = (await upstream.batches.list({ limit: 100 })).data.filter((batch) => batch.metadata?.spool_batch_id === created.id);
    expect(upstreamBatch.request_counts?.total).toBe(2);
    expect(simulator.chatCalls).toBe(callsBefore);
    const paid = ['uncached', 'new'].reduce((sum, name) => {
      const { usage } = lines.get(name).result;
      return sum + (usage.prompt_tokens * PRICES.input + usage.completion_tokens * PRICES.output) / 2e6;
    }, 0);
    expect(done.cost_usd).toBeCloseTo(paid, 7);
    // The provider's reply to a request with `cache` is cached like a live one.
    const again = (await postJson(`${stack.url}/v1/jobs`, { messages: messages(`new ${tag}`), cache })).body;
    expect(again).toMatchObject({ status: 'succeeded', cached: true, result: lines.get('new').result });
  });

  it('prices a provider batch at the model’s own batch_discount when it has one', async () => {
    const requests = ['x', 'y', 'z'].map((id) => ({ custom_id: id, body: { model: 'gpt-4o', messages: messages(`discounted ${id} ${randomUUID()}`) } }));
    const created = (await postJson(`${stack.url}/v1/batches`, { requests, completion_window: '24h' })).body;
    expect(created.mode).toBe('provider');
    const done = await waitForEnd(stack, created.id);
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const full = [...(await results(stack, created.id)).values()].reduce((sum, line) => sum + (line.result.usage.prompt_tokens * PRICES.input + line.result.usage.completion_tokens * PRICES.output) / 1e6, 0);
    expect(done.cost_usd).toBeGreaterThan(0);
    expect(done.cost_usd).toBeCloseTo(full * 0.25, 7);
  });

  it('describes mode, cost_usd and completion_window in /openapi.json', async () => {
    const { schemas } = (await getJson(`${stack.url}/openapi.json`)).body.components;
    expect(schemas.Batch.properties.mode).toMatchObject({ enum: ['live', 'provider'] });
    expect(schemas.Batch.properties.cost_usd).toMatchObject({ type: 'number' });
    expect(schemas.Batch.required).toEqual(expect.arrayContaining(['mode', 'cost_usd']));
    expect(JSON.stringify(schemas.BatchRequest.properties.completion_window)).toContain('24h');
  });

  it('runs live a batch that mixes models (an upstream batch holds one), and one without completion_window', async () => {
    const mixed = (await postJson(`${stack.url}/v1/batches`, {
      requests: [
        { custom_id: 'a', body: { model: 'gpt-4o-mini', messages: messages('a') } },
        { custom_id: 'b', body: { model: 'gpt-4o', messages: messages('b') } },
      ],
      completion_window: '24h',
    })).body;
    expect(mixed.mode).toBe('live');
    expect((await waitForEnd(stack, mixed.id)).request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
  });
});

describe('cancelling a provider batch', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The upstream batch would take two minutes: it is cancelled long before.
    stack = await startStack({ simulator: { batchDelayMs: 120_000 }, env: { SPOOL_PROVIDER_BATCH_POLL_MS: '60000' } });
  });
  afterAll(async () => stack?.close());

  it('cancels the upstream batch, and every request ends cancelled', async () => {
    const seen = watchSimulator(stack);
    const upstreamRunning = new Promise<string>((resolve) =>
      stack.simulator.events.on('batch', (event: { id: string; status: string }) => event.status === 'in_progress' && resolve(event.id)),
    );
    const upstreamCancelled = new Promise<void>((resolve) => stack.simulator.events.on('batch', (event: { status: string }) => event.status === 'cancelled' && resolve()));
    const requests = Array.from({ length: 5 }, (_, index) => ({ custom_id: `c${index}`, body: { messages: messages(`cancel me ${index}`) } }));
    const created = (await postJson(`${stack.url}/v1/batches`, { requests, completion_window: '24h' })).body;
    const upstreamId = await upstreamRunning;

    // The poller waits a minute between polls: the cancel wakes it.
    const cancel = await postJson(`${stack.url}/v1/batches/${created.id}/cancel`, {});
    expect(cancel.status).toBe(200);
    const done = await waitForEnd(stack, created.id);
    expect(done).toMatchObject({ status: 'cancelled', request_counts: { total: 5, completed: 0, failed: 5 } });
    for (const line of (await results(stack, created.id)).values()) expect(line.error.code).toBe('cancelled');

    await upstreamCancelled;
    const client = new OpenAI({ baseURL: stack.simulatorUrl, apiKey: 'sk-test', maxRetries: 0 });
    const upstream = await client.batches.retrieve(upstreamId);
    expect(upstream).toMatchObject({ status: 'cancelled', metadata: { spool_batch_id: created.id } });
    expect(seen.chatCalls).toBe(0);
  });
});
