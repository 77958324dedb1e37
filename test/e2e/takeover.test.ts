/**
 * Issue 12 (low): a worker that died after the whole reply streamed, but before it ended the job,
 * leaves the log complete; the worker that takes the job over must end it with that text, not ask
 * upstream to "continue" a finished answer. The dead worker's part is played through the job
 * repository, writing what a worker writes; the takeover is a real worker taking the job from BullMQ.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { SpoolWorker } from '@spool/worker';
import { encodeEntry } from '@spool/stream';
import { QueueEvents } from 'bullmq';
import { CHAT_QUEUE, chatJobOptions, queuePrefix } from '@spool/queue';
import { silentLogger, startStack, type Stack } from '../support/stack.js';
import { joinDeltas, postJson, readEvents } from '../support/http.js';

const MODEL = 'gpt-4o-mini';
const delta = (content: string) => encodeEntry('delta', JSON.stringify({ content }));

describe('a takeover after the whole reply streamed', () => {
  let stack: Stack;
  let upstreamCalls = 0;
  beforeAll(async () => {
    stack = await startStack({ workers: 0, simulator: { tokensPerSecond: 2000 } });
    stack.simulator.events.on('request', () => upstreamCalls++);
  });
  afterAll(async () => stack?.close());

  it('ends the job with exactly the streamed text, without calling upstream or appending anything', async () => {
    // Content parts: the queue entry does not carry this request, so the worker reads it from the record, as after any takeover.
    const messages = [{ role: 'user', content: [{ type: 'text', text: `[[sim tokens=12]] finished before the crash ${randomUUID()}` }] }];
    const submitted = (await postJson(`${stack.url}/v1/jobs`, { model: MODEL, messages })).body;
    const reply = simulateReply({ model: MODEL, messages: messages as never });
    const half = Math.floor(reply.content.length / 2);
    const usage = { prompt_tokens: 30, completion_tokens: reply.tokens.length, total_tokens: 30 + reply.tokens.length };

    // The dead worker: it started the job and streamed the whole reply, the last deltas written
    // with the stream's end, then died before ending the job.
    const jobs = stack.api.deps.jobs;
    const dead = randomUUID();
    expect((await jobs.start(submitted.id, dead)).state).toBe('started');
    expect(await jobs.append(submitted.id, dead, [delta(reply.content.slice(0, half))])).toBe(true);
    expect(await jobs.append(submitted.id, dead, [delta(reply.content.slice(half))], { finish_reason: 'stop', usage })).toBe(true);

    stack.workers.push(new SpoolWorker({ config: stack.config, logger: silentLogger }));
    const events = await readEvents(`${stack.url}${submitted.stream_url}`);
    const done = JSON.parse(events[events.length - 1].data);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { content: reply.content, finish_reason: 'stop', usage } });
    expect(joinDeltas(events)).toBe(reply.content);
    expect(events.filter((event) => event.event === 'delta')).toHaveLength(2);
    expect(upstreamCalls).toBe(0);
  });

  it('drops a queue entry whose job has no record (the API took it back) at once, without retrying it', async () => {
    if (stack.workers.length === 0) stack.workers.push(new SpoolWorker({ config: stack.config, logger: silentLogger }));
    const queue = stack.api.deps.queue;
    const events = new QueueEvents(CHAT_QUEUE, { connection: { host: '127.0.0.1', port: 6379 }, prefix: queuePrefix(stack.config.prefix) });
    await events.waitUntilReady();
    try {
      const id = `job_${randomUUID().replaceAll('-', '')}`;
      const entry = await queue.add('chat', { jobId: id }, chatJobOptions(id, { priority: 5, attempts: stack.config.maxAttempts }));
      // Completed, not failed after its attempts (waitUntilFinished throws on a failure).
      await entry.waitUntilFinished(events, 10_000);
    } finally {
      await events.close();
    }
  });
});
