/**
 * Issue 3, upstream resilience (API.md §3 and §5), in one process: simulator, API and workers on a
 * private prefix of the real Redis. What reached upstream is read from the simulator's own
 * `request` events, one per call, matched to a job by a unique marker in its prompt.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { messageText, simulateReply, type ChatMessage, type Simulator } from '@spool/simulator';
import { SpoolWorker } from '@spool/worker';
import { silentLogger, startStack, type Stack } from '../support/stack.js';
import { getJson, joinDeltas, postJson, readEvents, type SseEvent } from '../support/http.js';
import { busiestWindow } from '../support/busiest-window.js';

const MODEL = 'gpt-4o-mini';
const messages = (content: string) => [{ role: 'user', content }];
const expectedReply = (content: string) => simulateReply({ model: MODEL, messages: messages(content) });

// `times=` counts per directive text, so every directive here gets a `tokens=` no other one has.
let serial = 0;
const uniqueTokens = () => 24 + serial++;
const marker = (label: string) => `${label} ${randomUUID()}`;

interface SeenRequest {
  id: string;
  /** when this process saw the request, ms since the epoch; a busy event loop notes it a little late, hence ~50 ms margins */
  at: number;
  messages: ChatMessage[];
}

/** Every chat completion call the simulator receives, in arrival order. */
function watchRequests(simulator: Simulator) {
  const all: SeenRequest[] = [];
  simulator.events.on('request', (event: { id: string; messages: ChatMessage[] }) => all.push({ id: event.id, at: Date.now(), messages: event.messages }));
  return {
    all,
    /** the calls made for the job whose prompt carries `text` */
    for: (text: string) => all.filter((request) => request.messages.some((message) => messageText(message).includes(text))),
  };
}

/** Submits, waits for the end with `?wait`, then reads the job's whole event log. */
async function runJob(stack: Stack, content: string, extra: Record<string, unknown> = {}): Promise<{ job: any; events: SseEvent[] }> {
  const response = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(content), ...extra });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  const events = await readEvents(`${stack.url}${response.body.stream_url}`);
  return { job: response.body, events };
}

const named = (events: SseEvent[], name: string) => events.filter((event) => event.event === name);
const runningAttempts = (events: SseEvent[]) =>
  named(events, 'status')
    .map((event) => JSON.parse(event.data))
    .filter((data) => data.status === 'running')
    .map((data) => data.attempt);

/** The text a job streamed in one attempt: its deltas between that attempt's `running` and the next. */
function attemptText(events: SseEvent[], attempt: number): string {
  let current = 0;
  let text = '';
  for (const event of events) {
    if (event.event === 'status') {
      const data = JSON.parse(event.data);
      if (data.status === 'running') current = data.attempt;
    }
    if (event.event === 'delta' && current === attempt) text += JSON.parse(event.data).content;
  }
  return text;
}

describe('upstream errors, class by class', () => {
  const MAX_ATTEMPTS = 3;
  let stack: Stack;
  let requests: ReturnType<typeof watchRequests>;
  beforeAll(async () => {
    stack = await startStack({
      simulator: { tokensPerSecond: 1000 },
      env: { SPOOL_MAX_ATTEMPTS: String(MAX_ATTEMPTS), SPOOL_BACKOFF_MS: '20', SPOOL_STALL_TIMEOUT_MS: '300' },
    });
    requests = watchRequests(stack.simulator);
  });
  afterAll(async () => stack?.close());

  // 401 and 403 fail at once too, as upstream_auth_error: test/e2e/upstream-auth.test.ts.
  it.each([400, 404, 422])('fails a %i at once: invalid_upstream_request after exactly one upstream call', async (status) => {
    const text = marker(`fail fast ${status}`);
    const { job, events } = await runJob(stack, `[[sim status=${status}]] ${text}`);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'invalid_upstream_request' } });
    expect(requests.for(text)).toHaveLength(1);
    expect(named(events, 'done')).toHaveLength(1);
  });

  it('fails a 429 insufficient_quota at once: insufficient_quota after exactly one upstream call', async () => {
    const text = marker('quota');
    const { job } = await runJob(stack, `[[sim status=429 code=insufficient_quota]] ${text}`);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'insufficient_quota' } });
    expect(requests.for(text)).toHaveLength(1);
  });

  it.each([500, 503, 408, 409])('retries a %i once and succeeds on attempt 2', async (status) => {
    const content = `[[sim status=${status} times=1 tokens=${uniqueTokens()}]] ${marker(`retry ${status}`)}`;
    const { job, events } = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(job.result.content).toBe(expectedReply(content).content);
    expect(joinDeltas(events)).toBe(job.result.content);
    expect(runningAttempts(events)).toEqual([1, 2]);
    expect(requests.for(content)).toHaveLength(2);
  });

  it.each([500, 503, 408, 409])('gives up on a %i that never clears: upstream_error after SPOOL_MAX_ATTEMPTS calls', async (status) => {
    const content = `[[sim status=${status} times=99 tokens=${uniqueTokens()}]] ${marker(`persistent ${status}`)}`;
    const { job, events } = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, error: { code: 'upstream_error' } });
    expect(requests.for(content)).toHaveLength(MAX_ATTEMPTS);
    expect(named(events, 'done')).toHaveLength(1);
  });

  it('waits at least retry-after-ms before retrying a 503 that carries it', async () => {
    const content = `[[sim status=503 times=1 retry_after_ms=700 tokens=${uniqueTokens()}]] ${marker('retry after')}`;
    const { job } = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    const [first, second] = requests.for(content);
    expect(second.at - first.at).toBeGreaterThanOrEqual(700 - 50);
  });

  it.each([
    ['a stream broken after 5 chunks', 'break=5'],
    ['a stream that ends after 4 chunks without a finish_reason', 'truncate=4'],
    ['a stream that stalls after 2 chunks (SPOOL_STALL_TIMEOUT_MS=300)', 'stall=2'],
  ])('retries %s and still delivers the whole reply', async (_label, fault) => {
    const content = `[[sim ${fault} times=1 tokens=40]] ${marker(fault)}`;
    const { job, events } = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    const expected = expectedReply(content).content;
    expect(job.result.content).toBe(expected);
    expect(joinDeltas(events)).toBe(expected);
    expect(requests.for(content)).toHaveLength(2);
  });

  it('fails a stream that stalls on every attempt with upstream_timeout, keeping what streamed as partial', async () => {
    const content = `[[sim stall=2 tokens=${uniqueTokens()}]] ${marker('always stalls')}`;
    const { job, events } = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, error: { code: 'upstream_timeout' } });
    expect(requests.for(content)).toHaveLength(MAX_ATTEMPTS);
    expect(job.partial.content.length).toBeGreaterThan(0);
    expect(job.partial.content).toBe(joinDeltas(events));
    expect(expectedReply(content).content.startsWith(job.partial.content)).toBe(true);
  });
});

describe('a stream broken mid-way', () => {
  let stack: Stack;
  let requests: ReturnType<typeof watchRequests>;
  beforeAll(async () => {
    stack = await startStack({ simulator: { tokensPerSecond: 400 }, env: { SPOOL_BACKOFF_MS: '20' } });
    requests = watchRequests(stack.simulator);
  });
  afterAll(async () => stack?.close());

  it('continues by default: text is only appended, no reset, and the whole equals the uninterrupted reply', async () => {
    const content = `[[sim break=5 times=1 tokens=${uniqueTokens()}]] ${marker('continue')}`;
    const { job, events } = await runJob(stack, content);
    const expected = expectedReply(content).content;
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(named(events, 'reset')).toHaveLength(0);
    expect(runningAttempts(events)).toEqual([1, 2]);
    let shown = '';
    for (const event of named(events, 'delta')) {
      shown += JSON.parse(event.data).content;
      expect(expected.startsWith(shown), `"${shown}" is not a prefix of the reply`).toBe(true);
    }
    expect(shown).toBe(expected);
    expect(job.result.content).toBe(expected);

    // The retry asks upstream to go on from exactly the text already sent.
    const sent = attemptText(events, 1);
    expect(sent.length).toBeGreaterThan(0);
    const [first, retry] = requests.for(content);
    expect(first.messages).toEqual(messages(content));
    expect(retry.messages.slice(0, 2)).toEqual([...messages(content), { role: 'assistant', content: sent }]);
    expect(retry.messages.length).toBeLessThanOrEqual(3);
    if (retry.messages[2]) expect(retry.messages[2].role).toBe('user');
  });

  it('restarts with on_interrupt "restart": one reset with attempt 2, and the deltas after it are the result', async () => {
    const content = `[[sim break=5 times=1 tokens=${uniqueTokens()}]] ${marker('restart')}`;
    const { job, events } = await runJob(stack, content, { on_interrupt: 'restart' });
    const expected = expectedReply(content).content;
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    const resets = named(events, 'reset');
    expect(resets).toHaveLength(1);
    expect(JSON.parse(resets[0].data)).toMatchObject({ attempt: 2, reason: expect.any(String) });
    const resetAt = events.indexOf(resets[0]);
    expect(joinDeltas(events.slice(0, resetAt)).length).toBeGreaterThan(0);
    expect(joinDeltas(events)).toBe(job.result.content);
    expect(job.result.content).toBe(expected);
    // Starting over means asking the original question again.
    const [, retry] = requests.for(content);
    expect(retry.messages).toEqual(messages(content));
  });
});

describe('429 from upstream', () => {
  let stack: Stack;
  let requests: ReturnType<typeof watchRequests>;
  beforeAll(async () => {
    // 120 RPM: one call every 500 ms, so calls queue up in the shared gate.
    stack = await startStack({ simulator: { tokensPerSecond: 1000 }, env: { SPOOL_UPSTREAM_RPM: '120', SPOOL_BACKOFF_MS: '20' } });
    requests = watchRequests(stack.simulator);
  });
  afterAll(async () => stack?.close());

  it('waits out retry-after-ms and does not count the 429 as an attempt', async () => {
    const content = `[[sim status=429 retry_after_ms=1200 times=1 tokens=${uniqueTokens()}]] ${marker('one 429')}`;
    const { job, events } = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(job.result.content).toBe(expectedReply(content).content);
    expect(runningAttempts(events)).toEqual([1, 1]);
    const [first, second] = requests.for(content);
    expect(second.at - first.at).toBeGreaterThanOrEqual(1200 - 50);
  });

  it('resumes as soon as the pause is over, not seconds later', async () => {
    const content = `[[sim status=429 retry_after_ms=500 times=1 tokens=${uniqueTokens()}]] ${marker('prompt resume')}`;
    const { job } = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    const [first, second] = requests.for(content);
    expect(second.at - first.at, 'ms from the 429 (retry-after-ms 500) to the next call').toBeLessThan(500 + 1000);
  });

  it('holds back every call during the pause, also those already waiting for an RPM slot', async () => {
    // One directive text for all four: whichever call arrives first gets the 429, the others wait their slot.
    const directive = `[[sim status=429 retry_after_ms=2000 times=1 tokens=${uniqueTokens()}]]`;
    const contents = Array.from({ length: 4 }, (_, index) => `${directive} ${marker(`queued behind a 429 #${index}`)}`);
    const jobs = await Promise.all(contents.map((content) => runJob(stack, content)));
    for (const { job } of jobs) expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    const calls = requests.all.filter((request) => contents.some((content) => messageText(request.messages[0]).includes(content)));
    expect(calls).toHaveLength(5);
    const [limited, ...rest] = calls;
    const early = rest.map((request) => request.at - limited.at).filter((offset) => offset < 2000 - 50);
    expect(early, 'calls that reached upstream within the 2000 ms pause after the 429 (ms after it)').toEqual([]);
  });
});

describe('shared RPM limit', () => {
  it('spreads 60 jobs under SPOOL_UPSTREAM_RPM=600 across two workers: no 429, at most 51 calls in any 5 s', async () => {
    const stack = await startStack({ workers: 2, simulator: { rpm: 600, tokensPerSecond: 1000 }, env: { SPOOL_UPSTREAM_RPM: '600' } });
    try {
      const requests = watchRequests(stack.simulator);
      const jobs = 60;
      const contents = Array.from({ length: jobs }, (_, index) => `[[sim tokens=5]] ${marker(`rpm #${index}`)}`);
      const results = await Promise.all(contents.map((content) => runJob(stack, content)));
      for (const { job } of results) expect(job.status).toBe('succeeded');
      expect(stack.simulator.stats.rateLimited).toBe(0);
      expect(requests.all).toHaveLength(jobs);
      const times = requests.all.map((request) => request.at);
      expect(busiestWindow(times, 5000)).toBeLessThanOrEqual(600 / 12 + 1);
      // Close to the limit too: evenly spaced at 100 ms, not much slower.
      const span = Math.max(...times) - Math.min(...times);
      expect(span).toBeGreaterThanOrEqual((jobs - 1) * 100 - 50);
      expect(span).toBeLessThan((jobs - 1) * 100 + 1500);
    } finally {
      await stack.close();
    }
  });
});

describe('cancel', () => {
  let stack: Stack;
  let requests: ReturnType<typeof watchRequests>;
  beforeAll(async () => {
    stack = await startStack({ workers: 0, simulator: { tokensPerSecond: 1000 } });
    requests = watchRequests(stack.simulator);
  });
  afterAll(async () => stack?.close());

  it('cancels a queued job: 200 cancelled, and it never reaches upstream once a worker runs', async () => {
    const text = marker('cancel queued');
    const queued = (await postJson(`${stack.url}/v1/jobs`, { messages: messages(text) })).body;
    const cancelled = await postJson(`${stack.url}/v1/jobs/${queued.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: queued.id, status: 'cancelled', error: { code: 'cancelled' } });
    expect((await getJson(`${stack.url}/v1/jobs/${queued.id}`)).body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });

    stack.workers.push(new SpoolWorker({ config: stack.config, logger: silentLogger }));
    // A job submitted after it runs to the end: the worker has been past the cancelled one.
    const after = await runJob(stack, marker('after the cancelled one'));
    expect(after.job.status).toBe('succeeded');
    expect(requests.for(text)).toHaveLength(0);
    const events = await readEvents(`${stack.url}${queued.stream_url}`);
    expect(named(events, 'done')).toHaveLength(1);
    expect(runningAttempts(events)).toEqual([]);
  });

  it('a worker that takes a job cancelled a moment before writes nothing, and aborts the call it began early', async () => {
    const racing = await startStack({ workers: 0 });
    try {
      const calls = watchRequests(racing.simulator);
      const aborted: string[] = [];
      racing.simulator.events.on('aborted', (event: { id: string }) => aborted.push(event.id));
      const content = `[[sim ttft=500 tokens=5]] ${marker('cancel race')}`;
      const job = (await postJson(`${racing.url}/v1/jobs`, { messages: messages(content) })).body;
      // The cancel as it lands when a worker has just taken the job: recorded, but the queue entry is still there.
      const { jobs, queue } = racing.api.deps;
      const outcome = { status: 'cancelled' as const, error: { code: 'cancelled', message: 'The job was cancelled' } };
      expect((await jobs.finish(job.id, (await jobs.get(job.id))!, outcome)).state).toBe('finished');

      racing.workers.push(new SpoolWorker({ config: racing.config, logger: silentLogger }));
      await vi.waitFor(async () => expect(await queue.getJob(job.id)).toBeUndefined(), { timeout: 10_000, interval: 20 });
      const events = await readEvents(`${racing.url}${job.stream_url}`);
      expect(events.map((event) => event.event)).toEqual(['status', 'done']);
      expect(JSON.parse(events[1].data)).toMatchObject({ status: 'cancelled' });
      for (const call of calls.for(content)) await vi.waitFor(() => expect(aborted).toContain(call.id), { timeout: 2000, interval: 20 });
    } finally {
      await racing.close();
    }
  });

  it('cancels a running job: upstream aborted within 1 s, partial is what streamed, a second cancel is 409', async () => {
    if (stack.workers.length === 0) stack.workers.push(new SpoolWorker({ config: stack.config, logger: silentLogger }));
    const content = `[[sim tokens=200 tps=20]] ${marker('cancel running')}`;
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages(content) })).body;
    // queued, running, then two deltas: the stream is live.
    const early = await readEvents(`${stack.url}${job.stream_url}`, { limit: 4 });
    expect(named(early, 'delta')).toHaveLength(2);
    const [call] = requests.for(content);
    const aborted = new Promise<number>((resolve) => {
      const onAborted = (event: { id: string }) => {
        if (event.id !== call.id) return;
        stack.simulator.events.off('aborted', onAborted);
        resolve(Date.now());
      };
      stack.simulator.events.on('aborted', onAborted);
    });

    const response = await postJson(`${stack.url}/v1/jobs/${job.id}/cancel`, {});
    const answeredAt = Date.now();
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    const abortedAt = await Promise.race([aborted, new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 2000))]);
    expect(abortedAt - answeredAt, 'ms from the cancel answer to upstream seeing the abort').toBeLessThanOrEqual(1000);

    const events = await readEvents(`${stack.url}${job.stream_url}`);
    const done = named(events, 'done');
    expect(done).toHaveLength(1);
    expect(events.at(-1)!.event).toBe('done');
    const finished = JSON.parse(done[0].data);
    const streamed = joinDeltas(events);
    expect(streamed.length).toBeGreaterThan(0);
    expect(finished).toMatchObject({ status: 'cancelled', partial: { content: streamed } });
    expect(response.body.partial?.content).toBe(streamed);
    expect((await getJson(`${stack.url}/v1/jobs/${job.id}`)).body).toMatchObject({ status: 'cancelled', partial: { content: streamed } });

    const again = await postJson(`${stack.url}/v1/jobs/${job.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.type).toBe('invalid_request_error');
  });
});

describe('priority', () => {
  it('runs priority 1 before priority 10 when the queue is backed up', async () => {
    const stack = await startStack({ workers: 0, simulator: { tokensPerSecond: 1000 } });
    try {
      const requests = watchRequests(stack.simulator);
      const low = Array.from({ length: 3 }, (_, index) => marker(`priority 10 #${index}`));
      const high = Array.from({ length: 3 }, (_, index) => marker(`priority 1 #${index}`));
      const submitted = [];
      for (const text of low) submitted.push((await postJson(`${stack.url}/v1/jobs`, { messages: messages(`[[sim tokens=5]] ${text}`), priority: 10 })).body);
      for (const text of high) submitted.push((await postJson(`${stack.url}/v1/jobs`, { messages: messages(`[[sim tokens=5]] ${text}`), priority: 1 })).body);

      stack.workers.push(new SpoolWorker({ config: { ...stack.config, workerConcurrency: 1 }, logger: silentLogger }));
      const ended = await Promise.all(submitted.map((job) => readEvents(`${stack.url}${job.stream_url}`)));
      for (const events of ended) expect(JSON.parse(events.at(-1)!.data).status).toBe('succeeded');
      const order = requests.all.map((request) => (high.some((text) => messageText(request.messages[0]).includes(text)) ? 1 : 10));
      expect(order).toEqual([1, 1, 1, 10, 10, 10]);
    } finally {
      await stack.close();
    }
  });
});
