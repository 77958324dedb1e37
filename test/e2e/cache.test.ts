import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { useStack, type Stack } from '../support/stack.js';
import { getJson, joinDeltas, postJson, readEvents, type SseEvent } from '../support/http.js';
import { Receiver } from '../support/receiver.js';

const alice = { authorization: 'Bearer alice-key-0000000000000' };
const bob = { authorization: 'Bearer bob-key-00000000000000' };
const API_KEYS = 'alice:alice-key-0000000000000,bob:bob-key-00000000000000';

const user = (content: string) => [{ role: 'user', content }];
const cache = (ttl_s: number) => ({ cache: { ttl_s } });
/** a reply of about three seconds: long enough to join it, cancel it or watch it while it streams, on a loaded machine too */
const SLOW = '[[sim tokens=60 tps=20]]';

/** Upstream calls the simulator has answered (or begun answering) so far. */
const calls = (stack: Stack) => stack.simulator.stats.requests;

async function submit(stack: Stack, body: Record<string, unknown>, headers: Record<string, string> = alice, wait = '') {
  const response = await postJson(`${stack.url}/v1/jobs${wait}`, body, headers);
  expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
  return response.body;
}

async function events(stack: Stack, id: string, headers: Record<string, string> = alice): Promise<SseEvent[]> {
  return readEvents(`${stack.url}/v1/jobs/${id}/events`, { headers });
}

/** The job's whole stream: its ids count up from 1, its deltas make its result, it ends with `done`; the final job. */
async function completeStream(stack: Stack, id: string, headers: Record<string, string> = alice) {
  const stream = await events(stack, id, headers);
  expect(stream.map((event) => event.id)).toEqual(stream.map((_, index) => index + 1));
  const done = stream.at(-1)!;
  expect(done.event).toBe('done');
  const job = JSON.parse(done.data);
  if (job.status === 'succeeded') expect(joinDeltas(stream)).toBe(job.result.content);
  return { job, stream };
}

/** Resolves once the job's stream has shown its first delta. */
async function firstDelta(stack: Stack, id: string): Promise<void> {
  const stream = await readEvents(`${stack.url}/v1/jobs/${id}/events`, { headers: alice, limit: 3 });
  expect(stream.at(-1)!.event).toBe('delta');
}

describe('the response cache', () => {
  const receiver = new Receiver();
  const stack = useStack({ env: { SPOOL_API_KEYS: API_KEYS, SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true' } });

  it('answers a repeat within ttl_s without calling upstream: same result, cached, a complete stream, webhook and store record', async () => {
    await receiver.listen();
    const first = await submit(stack, { model: 'gpt-4o-mini', messages: user('cache me'), temperature: 0.5, ...cache(60) }, alice, '?wait=30');
    expect(first).toMatchObject({ status: 'succeeded', cached: false });
    const before = calls(stack);

    // The same request with its keys in another order, the default model left implicit, and other Spool fields.
    const repeat = await submit(stack, { ...cache(30), temperature: 0.5, messages: user('cache me'), metadata: { try: '2' }, webhook: { url: `${receiver.url}/hook` } });
    expect(repeat).toMatchObject({ status: 'succeeded', cached: true, result: first.result, metadata: { try: '2' } });
    expect(calls(stack)).toBe(before);

    const { job, stream } = await completeStream(stack, repeat.id);
    expect(job).toEqual(repeat);
    expect(stream.filter((event) => event.event === 'delta').length).toBeGreaterThanOrEqual(1);
    expect(joinDeltas(stream)).toBe(first.result.content);
    expect((await getJson(`${stack.url}/v1/jobs/${repeat.id}`, alice)).body).toEqual(repeat);

    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(1);
    expect(JSON.parse(receiver.received[0].body)).toMatchObject({ type: 'job.succeeded', data: { id: repeat.id, cached: true } });
    await expect.poll(() => stack.store.getJob(repeat.id, 'alice'), { timeout: 10_000 }).toMatchObject({ cached: true, result: first.result });
    await receiver.close();
  });

  it('serves the requests of a batch from the cache', async () => {
    const first = await submit(stack, { messages: user('batch cache'), ...cache(60) }, alice, '?wait=30');
    const before = calls(stack);
    const requests = ['a', 'b'].map((custom_id) => ({ custom_id, body: { messages: user('batch cache'), ...cache(60) } }));
    const batch = (await postJson(`${stack.url}/v1/batches`, { requests }, alice)).body;
    await expect.poll(async () => (await getJson(`${stack.url}/v1/batches/${batch.id}`, alice)).body.status, { timeout: 15_000 }).toBe('completed');
    const lines = (await (await fetch(`${stack.url}/v1/batches/${batch.id}/results`, { headers: alice })).text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.result)).toEqual([first.result, first.result]);
    expect(calls(stack)).toBe(before);
    for (const line of lines) expect((await getJson(`${stack.url}/v1/jobs/${line.job_id}`, alice)).body.cached).toBe(true);
  });

  it('never answers from another tenant’s cache, nor a request without `cache`, nor a session’s job', async () => {
    await submit(stack, { messages: user('mine only'), ...cache(60) }, alice, '?wait=30');
    const before = calls(stack);
    const bobs = await submit(stack, { messages: user('mine only'), ...cache(60) }, bob, '?wait=30');
    const uncached = await submit(stack, { messages: user('mine only') }, alice, '?wait=30');
    expect(bobs).toMatchObject({ status: 'succeeded', cached: false });
    expect(uncached).toMatchObject({ status: 'succeeded', cached: false });
    expect(calls(stack)).toBe(before + 2);

    const session = (await postJson(`${stack.url}/v1/sessions`, {}, alice)).body.id;
    for (let turn = 0; turn < 2; turn++) {
      expect(await submit(stack, { messages: user('mine only'), session_id: session, ...cache(60) }, alice, '?wait=30')).toMatchObject({ cached: false });
    }
    expect(calls(stack)).toBe(before + 4);
  });

  it('never caches a request that failed: a repeat calls upstream again', async () => {
    const body = { messages: user('[[sim status=400]] refused, not cached'), ...cache(60) };
    const first = await submit(stack, body, alice, '?wait=30');
    expect(first).toMatchObject({ status: 'failed', cached: false });
    const before = calls(stack);
    const again = await submit(stack, body, alice, '?wait=30');
    expect(again).toMatchObject({ status: 'failed', cached: false, error: first.error });
    expect(calls(stack)).toBe(before + 1);
  });

  it('misses for the same request from another `user` of the tenant', async () => {
    await submit(stack, { messages: user('per end user'), user: 'end-user-1', ...cache(60) }, alice, '?wait=30');
    const before = calls(stack);
    expect(await submit(stack, { messages: user('per end user'), user: 'end-user-2', ...cache(60) }, alice, '?wait=30')).toMatchObject({ cached: false });
    expect(await submit(stack, { messages: user('per end user'), user: 'end-user-1', ...cache(60) }, alice, '?wait=30')).toMatchObject({ cached: true });
    expect(calls(stack)).toBe(before + 1);
  });

  it('calls upstream again once ttl_s has passed', async () => {
    await submit(stack, { messages: user('short lived'), ...cache(1) }, alice, '?wait=30');
    const before = calls(stack);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the ttl itself is what is tested
    const again = await submit(stack, { messages: user('short lived'), ...cache(1) }, alice, '?wait=30');
    expect(again).toMatchObject({ status: 'succeeded', cached: false });
    expect(calls(stack)).toBe(before + 1);
    // A reader asking for a longer ttl takes the entry the last call wrote.
    expect(await submit(stack, { messages: user('short lived'), ...cache(3600) }, alice, '?wait=30')).toMatchObject({ cached: true });
  });

  it('rejects a bad `cache` with a 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ ttl_s: 0 }, 'cache.ttl_s'],
      [{ ttl_s: 604_801 }, 'cache.ttl_s'],
      [{ ttl_s: 1.5 }, 'cache.ttl_s'],
      [{}, 'cache.ttl_s'],
      [{ ttl_s: 1e308 }, 'cache.ttl_s'],
      [{ ttl_s: -1 }, 'cache.ttl_s'],
      [{ ttl_s: '5' }, 'cache.ttl_s'],
      [{ ttl_s: null }, 'cache.ttl_s'],
      [5, 'cache'],
      ['5', 'cache'],
      [{ ttl_s: 5, other: 1 }, 'cache'],
    ];
    for (const [value, param] of cases) {
      const response = await postJson(`${stack.url}/v1/jobs`, { messages: user('bad cache'), cache: value }, alice);
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param });
    }
    const batch = await postJson(`${stack.url}/v1/batches`, { requests: [{ custom_id: 'x', body: { messages: user('x'), cache: { ttl_s: -1 } } }] }, alice);
    expect(batch.body.error.param).toBe('requests[0].body.cache.ttl_s');
  });
});

describe('merging identical requests', () => {
  const stack = useStack({ env: { SPOOL_API_KEYS: API_KEYS, SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true' } });

  it('never merges across tenants, nor with an identical request without `cache`', async () => {
    const body = { messages: user(`${SLOW} two tenants`) };
    const before = calls(stack);
    const jobs = await Promise.all([submit(stack, { ...body, ...cache(60) }, alice), submit(stack, { ...body, ...cache(60) }, bob), submit(stack, body, alice)]);
    const ended = await Promise.all(jobs.map((job, index) => completeStream(stack, job.id, index === 1 ? bob : alice)));
    for (const { job } of ended) expect(job).toMatchObject({ status: 'succeeded', cached: false });
    expect(calls(stack)).toBe(before + 3);
    const [alices, bobs] = await Promise.all([stack.api.deps.jobs.get(jobs[0].id), stack.api.deps.jobs.get(jobs[1].id)]);
    expect(alices?.merged_with).toBeUndefined();
    expect(bobs?.merged_with).toBeUndefined();
  });

  it('keeps each joined job’s own webhook and store record', async () => {
    const receiver = new Receiver();
    await receiver.listen();
    const body = { messages: user(`${SLOW} own webhooks`), ...cache(60) };
    const before = calls(stack);
    const hooks = ['/one', '/two', '/three'].map((path) => receiver.on(path));
    const jobs = await Promise.all(hooks.map((url) => submit(stack, { ...body, webhook: { url } })));
    const ended = await Promise.all(jobs.map((job) => completeStream(stack, job.id)));
    expect(calls(stack)).toBe(before + 1);
    for (const [index, path] of ['/one', '/two', '/three'].entries()) {
      const [delivery] = await receiver.waitFor(path);
      expect(JSON.parse(delivery.body)).toMatchObject({ type: 'job.succeeded', data: { id: jobs[index].id, result: ended[0].job.result } });
      await expect.poll(() => stack.store.getJob(jobs[index].id, 'alice'), { timeout: 10_000 }).toMatchObject({ id: jobs[index].id, result: ended[0].job.result });
    }
    expect(receiver.received).toHaveLength(3);
    await receiver.close();
  });

  it('makes one upstream call for 10 identical requests at once, and every stream gets the whole text, live', async () => {
    const body = { messages: user(`${SLOW} ten at once`), ...cache(60) };
    const before = calls(stack);
    const jobs = await Promise.all(Array.from({ length: 10 }, () => submit(stack, body)));
    // Every stream has text while all ten still run: the one call's text reaches each as it streams, not at its end.
    await Promise.all(jobs.map((job) => firstDelta(stack, job.id)));
    const running = await Promise.all(jobs.map(async (job) => (await getJson(`${stack.url}/v1/jobs/${job.id}`, alice)).body.status));
    expect(running).toEqual(jobs.map(() => 'running'));
    const ended = await Promise.all(jobs.map((job) => completeStream(stack, job.id)));
    const content = ended[0].job.result.content;
    expect(content.length).toBeGreaterThan(0);
    for (const { job, stream } of ended) {
      expect(job).toMatchObject({ status: 'succeeded', result: { content } });
      expect(stream.filter((event) => event.event === 'delta').length).toBeGreaterThan(1);
    }
    expect(calls(stack)).toBe(before + 1);
  });

  it('streams the text to a watcher of a joined job live, before the job it joined has ended', async () => {
    const body = { messages: user(`${SLOW} live`), ...cache(60) };
    const before = calls(stack);
    const leader = await submit(stack, body);
    await firstDelta(stack, leader.id);
    const follower = await submit(stack, body);
    const stream = await readEvents(`${stack.url}/v1/jobs/${follower.id}/events`, { headers: alice, limit: 3 });
    expect(stream.map((event) => event.event)).toEqual(['status', 'status', 'delta']);
    expect((await getJson(`${stack.url}/v1/jobs/${leader.id}`, alice)).body.status).toBe('running');

    // Resuming after the follower's own event 3 misses nothing and repeats nothing.
    const rest = await readEvents(`${stack.url}/v1/jobs/${follower.id}/events?after=3`, { headers: alice });
    expect(rest[0].id).toBe(4);
    const { job } = await completeStream(stack, follower.id);
    expect(joinDeltas([...stream, ...rest])).toBe(job.result.content);
    expect(job.result).toEqual((await getJson(`${stack.url}/v1/jobs/${leader.id}`, alice)).body.result);
    expect(calls(stack)).toBe(before + 1);
  });

  it('cancels only the joined job that is cancelled', async () => {
    const body = { messages: user(`${SLOW} cancel a follower`), ...cache(60) };
    const before = calls(stack);
    const leader = await submit(stack, body);
    await firstDelta(stack, leader.id);
    const [cancelled, other] = [await submit(stack, body), await submit(stack, body)];
    await firstDelta(stack, cancelled.id);
    const answer = await postJson(`${stack.url}/v1/jobs/${cancelled.id}/cancel`, {}, alice);
    expect(answer.body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    const [led, followed] = await Promise.all([completeStream(stack, leader.id), completeStream(stack, other.id)]);
    expect(led.job.status).toBe('succeeded');
    expect(followed.job).toMatchObject({ status: 'succeeded', result: led.job.result });
    expect(calls(stack)).toBe(before + 1);
  });

  it('goes on without a cancelled leader: one of the joined jobs calls upstream, the others follow it', async () => {
    const body = { messages: user(`${SLOW} cancel the leader`), ...cache(60) };
    const before = calls(stack);
    const leader = await submit(stack, body);
    await firstDelta(stack, leader.id);
    const followers = [await submit(stack, body), await submit(stack, body)];
    await Promise.all(followers.map((job) => firstDelta(stack, job.id)));
    expect((await postJson(`${stack.url}/v1/jobs/${leader.id}/cancel`, {}, alice)).body.status).toBe('cancelled');
    const ended = await Promise.all(followers.map((job) => completeStream(stack, job.id)));
    for (const { job } of ended) expect(job.status).toBe('succeeded');
    expect(ended[1].job.result).toEqual(ended[0].job.result);
    expect(calls(stack)).toBe(before + 2);
  });
});

describe('merging when the leader fails', () => {
  const stack = useStack({ env: { SPOOL_API_KEYS: API_KEYS, SPOOL_MAX_ATTEMPTS: '1' } });

  it('lets the joined jobs succeed with one new upstream call', async () => {
    // The first call breaks after 5 chunks; with one attempt allowed, that job fails.
    const body = { messages: user('[[sim tokens=40 tps=20 break=5 times=1]] fails once'), ...cache(60) };
    const before = calls(stack);
    const leader = await submit(stack, body);
    await firstDelta(stack, leader.id);
    const followers = [await submit(stack, body), await submit(stack, body)];
    const failed = await completeStream(stack, leader.id);
    expect(failed.job.status).toBe('failed');
    const ended = await Promise.all(followers.map((job) => completeStream(stack, job.id)));
    for (const { job } of ended) expect(job.status).toBe('succeeded');
    expect(ended[1].job.result).toEqual(ended[0].job.result);
    expect(ended[0].job.result.content.startsWith(failed.job.partial.content)).toBe(true);
    expect(calls(stack)).toBe(before + 2);
  });
});

describe('merging when the leader is handed back for a retry', () => {
  // A retry waits 3 s or more: long enough that a joined job takes the lead before the leader's next attempt.
  const stack = useStack({ env: { SPOOL_API_KEYS: API_KEYS, SPOOL_BACKOFF_MS: '3000' } });

  it('has a running joined job take the lead, and the old leader take its result', async () => {
    const body = { messages: user('[[sim tokens=40 tps=20 break=5 times=1]] retried once'), ...cache(60) };
    const before = calls(stack);
    const leader = await submit(stack, body);
    await firstDelta(stack, leader.id);
    const follower = await submit(stack, body);
    const [first, second] = await Promise.all([completeStream(stack, leader.id), completeStream(stack, follower.id)]);
    expect(first.job).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(second.job).toMatchObject({ status: 'succeeded', result: first.job.result });
    // The broken call, and the one the follower made in its place; none for the leader's retry.
    expect(calls(stack)).toBe(before + 2);
    // The follower called upstream itself, without waiting out the leader's backoff; the leader's
    // retry then joined it, or (if it had ended by then) took its result from the cache.
    expect((await stack.api.deps.jobs.get(follower.id))?.merged_with).toBeUndefined();
    const retried = await stack.api.deps.jobs.get(leader.id);
    expect(retried?.merged_with === follower.id || retried?.cached === '1').toBe(true);
  });
});

describe('what a cached or joined job costs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-cache-prices-'));
  const configPath = join(dir, 'spool.json');
  writeFileSync(configPath, JSON.stringify({ models: { 'gpt-4o-mini': { input_usd_per_mtok: 1, output_usd_per_mtok: 2 } } }));
  const stack = useStack({ env: { SPOOL_CONFIG: configPath } });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const usage = async () => (await getJson(`${stack.url}/v1/usage`)).body;

  it('is nothing: a cached job costs 0 and adds no spend nor tokens to the tenant’s usage; of merged jobs only the one that called pays', async () => {
    const first = await submit(stack, { messages: user('priced'), ...cache(60) }, {}, '?wait=30');
    expect(first.cost_usd).toBeGreaterThan(0);
    await expect.poll(async () => (await usage()).spend_usd).toBeCloseTo(first.cost_usd, 7);
    const before = await usage();
    const repeat = await submit(stack, { messages: user('priced'), ...cache(60) }, {}, '?wait=30');
    expect(repeat).toMatchObject({ cached: true, cost_usd: 0 });
    expect(await usage()).toMatchObject({ spend_usd: before.spend_usd, tokens: before.tokens });

    const body = { messages: user(`${SLOW} priced merge`), ...cache(60) };
    const jobs = await Promise.all(Array.from({ length: 3 }, () => submit(stack, body)));
    const ended = await Promise.all(jobs.map(async (job) => (await completeStream(stack, job.id, {})).job));
    const paid = ended.filter((job) => job.cost_usd > 0);
    expect(paid).toHaveLength(1);
    const { usage: tokens } = paid[0].result;
    expect(paid[0].cost_usd).toBeCloseTo((tokens.prompt_tokens * 1 + tokens.completion_tokens * 2) / 1e6, 7);
    await expect.poll(async () => (await usage()).spend_usd).toBeCloseTo(before.spend_usd + paid[0].cost_usd, 7);
  });
});

describe('the cache through the OpenAI door', () => {
  const stack = useStack();
  const client = () => new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused-in-open-mode', maxRetries: 0 });

  it('takes x-spool-cache-ttl or a `cache` body field, and never sends `cache` upstream', async () => {
    const messages = [{ role: 'user' as const, content: 'door cache' }];
    const headers = { 'x-spool-cache-ttl': '60' };
    const { data: first, response: firstResponse } = await client().chat.completions.create({ model: 'gpt-4o-mini', messages }, { headers }).withResponse();
    // What the worker sends upstream is the job's recorded request: Spool's own fields are not in it.
    const recorded = await stack.api.deps.jobs.get(firstResponse.headers.get('x-spool-job-id')!);
    expect(JSON.parse(recorded!.request)).toEqual({ model: 'gpt-4o-mini', messages });
    const before = calls(stack);
    const { data: again, response } = await client().chat.completions.create({ model: 'gpt-4o-mini', messages }, { headers }).withResponse();
    expect(again.choices[0].message.content).toBe(first.choices[0].message.content);
    expect((await getJson(`${stack.url}/v1/jobs/${response.headers.get('x-spool-job-id')}`)).body.cached).toBe(true);

    const stream = await client().chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, cache: { ttl_s: 60 } } as OpenAI.ChatCompletionCreateParamsStreaming);
    let text = '';
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    expect(text).toBe(first.choices[0].message.content);
    expect(calls(stack)).toBe(before);
  });

  it('describes `cache`, `cached` and x-spool-cache-ttl in /openapi.json', async () => {
    const spec = (await getJson(`${stack.url}/openapi.json`)).body;
    const { schemas } = spec.components;
    expect(schemas.JobRequest.properties.cache).toBeDefined();
    expect(JSON.stringify(schemas.JobRequest.properties.cache)).toContain('ttl_s');
    expect(schemas.Job.properties.cached).toMatchObject({ type: 'boolean' });
    const parameters = spec.paths['/v1/chat/completions'].post.parameters ?? [];
    expect(parameters).toContainEqual(expect.objectContaining({ name: 'x-spool-cache-ttl', in: 'header' }));
  });

  it('answers a bad x-spool-cache-ttl with a 400 naming the header', async () => {
    const error = await client()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-spool-cache-ttl': 'soon' } })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).param).toBe('x-spool-cache-ttl');

    const body = await client()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], cache: { ttl_s: '5' } } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((caught: unknown) => caught);
    expect(body).toBeInstanceOf(OpenAI.BadRequestError);
    expect((body as InstanceType<typeof OpenAI.APIError>).param).toBe('cache.ttl_s');
  });

  it('applies x-spool-cache-ttl when the body’s `cache` is null (unset, as OpenAI reads null)', async () => {
    const messages = [{ role: 'user' as const, content: 'door cache, null body field' }];
    const request = { model: 'gpt-4o-mini', messages, cache: null } as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const headers = { 'x-spool-cache-ttl': '60' };
    await client().chat.completions.create(request, { headers });
    const before = calls(stack);
    const { response } = await client().chat.completions.create(request, { headers }).withResponse();
    expect((await getJson(`${stack.url}/v1/jobs/${response.headers.get('x-spool-job-id')}`)).body.cached).toBe(true);
    expect(calls(stack)).toBe(before);
  });
});
