/**
 * Issue 12 #2: the shared upstream gate (SPOOL_UPSTREAM_TPM) makes jobs wait, never fail: its
 * slot times are fractional at most limits, and an error of the gate itself (Redis) is not an
 * upstream error. Simulator, API and worker in this process on a private prefix of the real Redis.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply, type Simulator } from '@spool/simulator';
import { startStack, type Stack } from '../support/stack.js';
import { postJson, readEvents } from '../support/http.js';

const MODEL = 'gpt-4o-mini';
const messages = (content: string) => [{ role: 'user', content }];

/** When each chat completion call reached the simulator, ms since the epoch. */
function watchCalls(simulator: Simulator): number[] {
  const calls: number[] = [];
  simulator.events.on('request', () => calls.push(Date.now()));
  return calls;
}

describe('SPOOL_UPSTREAM_TPM', () => {
  let stack: Stack;
  let calls: number[];
  beforeAll(async () => {
    // 120,000 TPM: 0.51 ms a token, so a call of ~215 tokens holds the next back ~110 ms (never a whole ms).
    stack = await startStack({ simulator: { tokensPerSecond: 2000 }, env: { SPOOL_UPSTREAM_TPM: '120000' } });
    calls = watchCalls(stack.simulator);
  });
  afterAll(async () => stack?.close());

  it('makes 20 jobs of max_tokens 200 wait their turn, and every one succeeds on its first attempt', async () => {
    // Replies of 190 tokens: correcting the charge to usage takes little back, whenever it lands.
    const contents = Array.from({ length: 20 }, (_, index) => `[[sim tokens=190]] tpm #${index} ${randomUUID()}`);
    const responses = await Promise.all(contents.map((content) => postJson(`${stack.url}/v1/jobs?wait=20`, { model: MODEL, messages: messages(content), max_tokens: 200 })));
    for (const [index, response] of responses.entries()) {
      expect(response.body, JSON.stringify(response.body.error)).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(response.body.result.content).toBe(simulateReply({ model: MODEL, messages: messages(contents[index]) }).content);
    }
    expect(calls).toHaveLength(20);
    // They had to wait: 19 gaps of at least 190 tokens at 0.51 ms each (generous: half of that).
    expect(Math.max(...calls) - Math.min(...calls)).toBeGreaterThan((19 * 190 * 0.51) / 2);
  });

  it('gives back the charge of a call upstream refused: a max_tokens of 5,000,000 holds no one back', async () => {
    const refused = await postJson(`${stack.url}/v1/jobs?wait=30`, {
      model: MODEL,
      messages: messages(`[[sim status=400]] huge ${randomUUID()}`),
      max_tokens: 5_000_000,
    });
    expect(refused.body).toMatchObject({ status: 'failed', error: { code: 'invalid_upstream_request' } });
    // Charged in full, even capped at the model's 128,000-token window, it would hold the next call ~65 s.
    const startedAt = Date.now();
    const next = await postJson(`${stack.url}/v1/jobs?wait=15`, { model: MODEL, messages: messages(`[[sim tokens=5]] after the huge one ${randomUUID()}`) });
    expect(next.body.status).toBe('succeeded');
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });

  it('holds a job back while the gate itself fails (a Redis error), then runs it without spending an attempt', async () => {
    const gateKey = stack.api.deps.keys.upstreamGate();
    const redis = stack.api.deps.redis;
    // A real Redis error on every gate command: the key holds a string, not the gate's hash.
    await redis.set(gateKey, 'not a hash');
    const content = `[[sim tokens=5]] broken gate ${randomUUID()}`;
    const submitted = (await postJson(`${stack.url}/v1/jobs`, { model: MODEL, messages: messages(content) })).body;
    // queued, running, then queued again: the attempt gave the job back instead of failing it.
    const firstEvents = await readEvents(`${stack.url}${submitted.stream_url}`, { limit: 3 });
    expect(firstEvents.map((event) => [event.event, JSON.parse(event.data)])).toEqual([
      ['status', { status: 'queued', attempt: 1 }],
      ['status', { status: 'running', attempt: 1 }],
      ['status', { status: 'queued', attempt: 1 }],
    ]);
    await redis.del(gateKey);

    const events = await readEvents(`${stack.url}${submitted.stream_url}`);
    const done = JSON.parse(events[events.length - 1].data);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(done.result.content).toBe(simulateReply({ model: MODEL, messages: messages(content) }).content);
  });

  it('fails a job as interrupted, never upstream_error, once the gate has stayed broken through 50 deferrals', async () => {
    const { keys, redis } = stack.api.deps;
    const callsBefore = calls.length;
    await redis.set(keys.upstreamGate(), 'not a hash');
    try {
      const submitted = (await postJson(`${stack.url}/v1/jobs`, { model: MODEL, messages: messages(`[[sim tokens=5]] gate down for good ${randomUUID()}`) })).body;
      await readEvents(`${stack.url}${submitted.stream_url}`, { limit: 3 });
      // 50 deferrals with backoff take most of an hour; the count stands in for them.
      await redis.hset(keys.job(submitted.id), 'deferrals', '50');
      const events = await readEvents(`${stack.url}${submitted.stream_url}`);
      expect(JSON.parse(events[events.length - 1].data)).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'interrupted' } });
      expect(calls.length).toBe(callsBefore);
    } finally {
      await redis.del(keys.upstreamGate());
    }
  });
});
