/**
 * Issue 3, upstream resilience with real worker processes (`npm run worker`): a 429 storm seen by
 * two of them, and a clean stop (SIGTERM) with streams in flight. The simulator and the API run
 * in this process, so every upstream call is timed where it lands.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { messageText, simulateReply, type ChatMessage } from '@spool/simulator';
import { REDIS_URL, startStack, type Stack } from '../support/stack.js';
import { joinDeltas, postJson, readEvents, type SseEvent } from '../support/http.js';
import { startWorkerProcess, type Child } from '../support/processes.js';

const messages = (content: string) => [{ role: 'user', content }];
const expectedReply = (content: string) => simulateReply({ model: 'gpt-4o-mini', messages: messages(content) }).content;

interface SeenRequest {
  at: number;
  messages: ChatMessage[];
}

describe('worker processes under upstream pressure', () => {
  let stack: Stack;
  let requests: SeenRequest[];
  const children: Child[] = [];

  beforeEach(async () => {
    // No worker in here: the workers are the child processes each test starts.
    stack = await startStack({ workers: 0, simulator: { tokensPerSecond: 200 } });
    requests = [];
    stack.simulator.events.on('request', (event: { messages: ChatMessage[] }) => requests.push({ at: Date.now(), messages: event.messages }));
  });

  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop('SIGKILL')));
    await stack?.close();
  });

  function workerEnv(extra: Record<string, string>): Record<string, string> {
    return {
      REDIS_URL,
      SPOOL_PREFIX: stack.config.prefix,
      OPENAI_BASE_URL: stack.simulatorUrl,
      SPOOL_LOCK_MS: '2000',
      SPOOL_BACKOFF_MS: '50',
      ...extra,
    };
  }

  async function startWorkers(count: number, extra: Record<string, string>): Promise<Child[]> {
    const started = await Promise.all(Array.from({ length: count }, () => startWorkerProcess(workerEnv(extra))));
    children.push(...started);
    return started;
  }

  const callsFor = (text: string) => requests.filter((request) => request.messages.some((message) => messageText(message).includes(text)));

  it('a 429 storm: no call inside a pause, every job succeeds, and no attempt is spent on a 429', async () => {
    const [first, second] = await startWorkers(2, { WORKER_CONCURRENCY: '4' });
    // Warm both processes up (eight jobs at once need both): a cold process's first call can take
    // hundreds of ms to leave, which would blur what "in flight when the 429 came" means.
    const warmUp = Array.from({ length: 8 }, (_, index) => `[[sim tokens=10 tps=40]] warm up ${index} ${randomUUID()}`);
    const warmed = await Promise.all(warmUp.map((content) => postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(content) })));
    for (const response of warmed) expect(response.body.status).toBe('succeeded');
    requests.length = 0;

    const retryAfterMs = 1500;
    // Every job's first call is answered 429 (its own directive text, so its own `times=1`).
    const contents = Array.from(
      { length: 12 },
      (_, index) => `[[sim status=429 retry_after_ms=${retryAfterMs} times=1 tokens=${20 + index}]] storm ${index} ${randomUUID()}`,
    );
    const jobs = await Promise.all(contents.map(async (content) => (await postJson(`${stack.url}/v1/jobs`, { messages: messages(content) })).body));
    const logs = await Promise.all(jobs.map((job) => readEvents(`${stack.url}${job.stream_url}`)));

    for (const [index, events] of logs.entries()) {
      const done = events.filter((event) => event.event === 'done');
      expect(done).toHaveLength(1);
      const job = JSON.parse(done[0].data);
      expect(job, contents[index]).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(job.result.content).toBe(expectedReply(contents[index]));
      expect(joinDeltas(events)).toBe(job.result.content);
      // One 429, then one call that succeeds: nobody hammered upstream.
      expect(callsFor(contents[index])).toHaveLength(2);
    }

    // Calls already on the wire when the 429 came back cannot be recalled: 300 ms of grace for
    // them. And this busy process may note a call up to ~100 ms late, hence the margin at the end.
    const inFlightMs = 300;
    const clockMarginMs = 100;
    const limited = contents.map((content) => callsFor(content)[0].at);
    const violations: string[] = [];
    for (const at of limited) {
      for (const request of requests) {
        const offset = request.at - at;
        if (offset > inFlightMs && offset < retryAfterMs - clockMarginMs) violations.push(`a call ${offset} ms after a 429`);
      }
    }
    expect(violations).toEqual([]);

    // Both processes stop cleanly once idle.
    expect(await Promise.all([first.stop('SIGTERM'), second.stop('SIGTERM')])).toEqual([0, 0]);
  }, 60_000);

  it('SIGTERM with three long streams in flight: each job ends once, succeeded, nothing lost, and the worker exits 0', async () => {
    const [stopping] = await startWorkers(1, { WORKER_CONCURRENCY: '10' });
    // 13 s each at 10 tokens/s: longer than the worker's 10 s grace, so the hand-back path runs.
    const contents = Array.from({ length: 3 }, (_, index) => `[[sim tokens=130 tps=10]] long stream ${index} ${randomUUID()}`);
    const jobs = await Promise.all(contents.map(async (content) => (await postJson(`${stack.url}/v1/jobs`, { messages: messages(content) })).body));
    // queued, running, a delta: every stream is live in the first worker.
    await Promise.all(jobs.map((job) => readEvents(`${stack.url}${job.stream_url}`, { limit: 3 })));
    const watching = jobs.map((job) => readEvents(`${stack.url}${job.stream_url}`));

    const successor = startWorkerProcess(workerEnv({ WORKER_CONCURRENCY: '10' }));
    const exitCode = stopping.stop('SIGTERM');
    children.push(await successor);
    const logs: SseEvent[][] = await Promise.all(watching);
    expect(await exitCode).toBe(0);

    for (const [index, events] of logs.entries()) {
      const done = events.filter((event) => event.event === 'done');
      expect(done).toHaveLength(1);
      expect(events.at(-1)!.event).toBe('done');
      const job = JSON.parse(done[0].data);
      expect(job.status).toBe('succeeded');
      const expected = expectedReply(contents[index]);
      expect(job.result.content, 'result.content').toBe(expected);
      // A handed-back job continues where it stopped: what a watcher saw is the reply once, not restarted.
      expect(joinDeltas(events), 'the deltas a watcher saw, joined').toBe(expected);
      expect(events.map((event) => event.id)).toEqual(events.map((_, position) => position + 1));
    }
  }, 60_000);
});
