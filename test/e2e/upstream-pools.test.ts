/**
 * Issue 15, upstream pools (API.md §13): two upstreams, each a simulator of its own on
 * 127.0.0.1 reached over HTTP by the real `openai` SDK, with API and workers in this process on
 * a private prefix of the real Redis. What reached each upstream is read from its simulator's
 * own `request` events.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { startPoolStack, type PoolStack, type PoolStackOptions } from '../support/pool-stack.js';
import { getJson, joinDeltas, postJson, readEvents } from '../support/http.js';
import { busiestWindow } from '../support/busiest-window.js';

const MODEL = 'gpt-4o-mini';
const ADMIN_KEY = 'admin-key-for-pool-tests';
const messages = (content: string) => [{ role: 'user', content }];
const marker = (label: string) => `${label} ${randomUUID()}`;

/** A pool stack for the tests of the enclosing describe block (read it inside tests). */
function usePool(options: PoolStackOptions): PoolStack {
  const stack = {} as PoolStack;
  beforeAll(async () => {
    Object.assign(stack, await startPoolStack({ ...options, env: { SPOOL_ADMIN_KEY: ADMIN_KEY, ...options.env } }));
  });
  afterAll(async () => stack.close?.());
  return stack;
}

/** Submits a job and waits for its end. */
async function runJob(stack: PoolStack, content: string, extra: Record<string, unknown> = {}): Promise<any> {
  const response = await postJson(`${stack.url}/v1/jobs?wait=30`, { model: MODEL, messages: messages(content), ...extra });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}

const callsTo = (stack: PoolStack, upstream: string) => stack.calls.filter((call) => call.upstream === upstream);
const upstreamsOf = (job: any) => job.attempt_log.map((entry: any) => entry.upstream);
const logEntry = (fields: Record<string, unknown>) => ({ started_at: expect.any(Number), ended_at: expect.any(Number), error_code: null, ...fields });

async function adminUpstreams(stack: PoolStack): Promise<Record<string, any>> {
  const response = await getJson(`${stack.url}/admin/upstreams`, { authorization: `Bearer ${ADMIN_KEY}` });
  expect(response.status).toBe(200);
  expect(response.body.object).toBe('list');
  return Object.fromEntries(response.body.data.map((entry: any) => [entry.name, entry]));
}

/** The value of one series in a Prometheus text page; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)\{(.*)\}\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...match[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

const fast = { tokensPerSecond: 1000 };

describe('a 429 from one upstream', () => {
  // Both send x-ratelimit-* headers (a limit far above what the test uses).
  const limits = { rpm: 100_000, tpm: 100_000_000 };
  const stack = usePool({ workers: 2, upstreams: [{ name: 'a', simulator: { ...fast, ...limits } }, { name: 'b', simulator: { ...fast, ...limits } }] });

  it('pauses that upstream only, on every worker: no call reaches it inside its window, while jobs flow through the other without waiting', async () => {
    const retryAfterMs = 20_000;
    // The first call goes to `a` (equal weights: the first listed first); only `a` answers 429.
    const first = await runJob(stack, `[[sim status=429 retry_after_ms=${retryAfterMs} on=a]] ${marker('first')}`);
    expect(first).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(first.attempt_log).toEqual([
      logEntry({ attempt: 1, upstream: 'a', model: MODEL, outcome: 'rate_limited', error_code: 'upstream_rate_limited' }),
      logEntry({ attempt: 1, upstream: 'b', model: MODEL, outcome: 'succeeded' }),
    ]);
    const limitedAt = callsTo(stack, 'a')[0].at;

    const contents = Array.from({ length: 12 }, (_, index) => marker(`during the pause #${index}`));
    const jobs = await Promise.all(contents.map((content) => runJob(stack, content)));
    for (const [index, job] of jobs.entries()) {
      expect(job, JSON.stringify(job.attempt_log)).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(upstreamsOf(job)).toEqual(['b']);
      expect(job.result.content).toBe(simulateReply({ model: MODEL, messages: messages(contents[index]) }).content);
    }
    // They went at once: all of them ended long before `a`'s window did (generous: half of it).
    expect(Date.now() - limitedAt).toBeLessThan(retryAfterMs / 2);
    expect(callsTo(stack, 'a')).toHaveLength(1);

    const upstreams = await adminUpstreams(stack);
    expect(upstreams.a).toMatchObject({ state: 'paused', in_flight: 0 });
    expect(upstreams.a.paused_until).toBeGreaterThan(Date.now() / 1000 + 5);
    expect(upstreams.b).toMatchObject({ state: 'ok', paused_until: null, in_flight: 0, ratelimit_remaining_requests: expect.any(Number), ratelimit_remaining_tokens: expect.any(Number) });
    expect(upstreams.b.ratelimit_remaining_requests).toBeLessThan(100_000);
  });

  it('shows each upstream on /metrics: availability and last remaining budget (API, from Redis), calls by upstream and status (worker)', async () => {
    const api = await (await fetch(`${stack.url}/metrics`)).text();
    expect(sample(api, 'spool_upstream_available', { upstream: 'a' })).toBe(0);
    expect(sample(api, 'spool_upstream_available', { upstream: 'b' })).toBe(1);
    expect(sample(api, 'spool_upstream_ratelimit_remaining', { upstream: 'b', kind: 'requests' })).toBeGreaterThan(0);
    expect(sample(api, 'spool_upstream_ratelimit_remaining', { upstream: 'b', kind: 'tokens' })).toBeGreaterThan(0);
    // Each worker counts its own calls (Prometheus sums them); the gauges, read from Redis, are the same on each.
    const workers = await Promise.all(stack.processes.map((process) => process.metrics.registry.metrics()));
    const total = (labels: Record<string, string>) => workers.reduce((sum, text) => sum + (sample(text, 'spool_upstream_requests_total', labels) ?? 0), 0);
    expect(total({ upstream: 'a', status: '429' })).toBe(1);
    expect(total({ upstream: 'b', status: '200' })).toBe(13);
    for (const text of workers) expect(sample(text, 'spool_upstream_available', { upstream: 'a' })).toBe(0);
  });
});

describe('a 429 while other jobs wait for that upstream\'s gate slot', () => {
  // 60 RPM each: a slot a second on each upstream, so jobs queue for slots on both.
  const stack = usePool({ upstreams: ['a', 'b'].map((name) => ({ name, simulator: fast, settings: { rpm: 60 } })) });

  it('sends them to the other upstream when their slot comes, instead of waiting out the pause on the paused one', async () => {
    const retryAfterMs = 30_000;
    const startedAt = Date.now();
    // Any call that lands on `a` is answered 429: the first one pauses it while the rest sleep toward their slots there.
    const contents = Array.from({ length: 6 }, (_, index) => `[[sim status=429 retry_after_ms=${retryAfterMs} on=a]] ${marker(`slot #${index}`)}`);
    const jobs = await Promise.all(contents.map((content) => runJob(stack, content)));
    for (const [index, job] of jobs.entries()) {
      expect(job, JSON.stringify(job.attempt_log)).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(job.result.content).toBe(simulateReply({ model: MODEL, messages: messages(contents[index]) }).content);
    }
    // Six slots on `b` take about 6 s; waiting out `a`'s pause would take 30.
    expect(Date.now() - startedAt).toBeLessThan(retryAfterMs / 2);
    expect(callsTo(stack, 'a')).toHaveLength(1);
    expect(callsTo(stack, 'b')).toHaveLength(6);
  }, 40_000);
});

describe("an upstream whose own headers say its budget is spent", () => {
  // `a` answers, but says no request is left for 20 s (a limit of 3 a minute): no 429 needed.
  const spent = { 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '20s' };
  const stack = usePool({ upstreams: [{ name: 'a', simulator: { ...fast, headers: spent } }, { name: 'b', simulator: fast }] });

  it('is paused, that upstream only, for what they say, and the next jobs go to the other', async () => {
    const first = await runJob(stack, marker('spends a'));
    expect(upstreamsOf(first)).toEqual(['a']);
    const { a } = await adminUpstreams(stack);
    expect(a).toMatchObject({ state: 'paused', ratelimit_remaining_requests: 0 });
    expect(a.paused_until * 1000 - Date.now()).toBeGreaterThan(15_000);
    const later = await Promise.all([1, 2, 3, 4].map((n) => runJob(stack, marker(`after a is spent #${n}`))));
    for (const job of later) expect(job).toMatchObject({ status: 'succeeded', attempts: 1, attempt_log: [logEntry({ attempt: 1, upstream: 'b', model: MODEL, outcome: 'succeeded' })] });
    expect(callsTo(stack, 'a')).toHaveLength(1);
    expect(stack.simulators.get('a')!.stats.rateLimited).toBe(0);
  });
});

describe('upstreams that send nonsense rate-limit headers', () => {
  const stack = usePool({
    upstreams: [
      {
        name: 'a',
        simulator: {
          ...fast,
          rpm: 1000,
          headers: { 'x-ratelimit-remaining-requests': '-5', 'x-ratelimit-remaining-tokens': '1e400', 'x-ratelimit-limit-requests': '-1', 'x-ratelimit-reset-requests': 'soon' },
        },
      },
      { name: 'b', simulator: { ...fast, headers: { 'x-ratelimit-remaining-requests': 'abc', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': 'never' } } },
    ],
  });

  it('are not believed: jobs flow through both, and neither /admin/upstreams nor /metrics shows a figure that is not a count', async () => {
    const jobs = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => runJob(stack, marker(`odd headers #${n}`))));
    for (const job of jobs) expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(new Set(jobs.flatMap(upstreamsOf))).toEqual(new Set(['a', 'b']));

    const upstreams = await adminUpstreams(stack);
    expect(upstreams.a).toMatchObject({ state: 'ok', ratelimit_remaining_requests: null, ratelimit_remaining_tokens: null });
    // 0 tokens left is a count (it says the budget is spent), but with no reset it pauses nothing.
    expect(upstreams.b).toMatchObject({ state: 'ok', ratelimit_remaining_requests: null, ratelimit_remaining_tokens: 0 });
    const api = await (await fetch(`${stack.url}/metrics`)).text();
    expect(sample(api, 'spool_upstream_ratelimit_remaining', { upstream: 'a', kind: 'requests' })).toBeUndefined();
    expect(sample(api, 'spool_upstream_ratelimit_remaining', { upstream: 'a', kind: 'tokens' })).toBeUndefined();
    expect(sample(api, 'spool_upstream_ratelimit_remaining', { upstream: 'b', kind: 'requests' })).toBeUndefined();
    expect(sample(api, 'spool_upstream_ratelimit_remaining', { upstream: 'b', kind: 'tokens' })).toBe(0);
  });
});

/** Jobs one at a time until `upstream` has had `calls` calls; the jobs. */
async function runUntilCalls(stack: PoolStack, upstream: string, calls: number, label: string): Promise<any[]> {
  const jobs: any[] = [];
  // One job at a time: every other one's first call goes to `upstream`, fails, and is retried on the other at once.
  for (let index = 0; callsTo(stack, upstream).length < calls && index < 40; index++) jobs.push(await runJob(stack, marker(`${label} #${index}`)));
  expect(callsTo(stack, upstream)).toHaveLength(calls);
  return jobs;
}

describe('an upstream answering 500', () => {
  const outMs = 3000;
  const stack = usePool({
    workers: 2,
    upstreams: [{ name: 'a', simulator: { ...fast, faultStatus: 500 } }, { name: 'b', simulator: fast }],
    // The 30 s window out, shortened for the test (the next block shows the default is 30 s).
    upstreamHealth: { failuresToOut: 5, outMs },
  });

  it('is taken out after 5 failed calls in a row: no call for its window, then one trial call over both workers; every job succeeds', async () => {
    const jobs = await runUntilCalls(stack, 'a', 5, 'until out');
    const outAt = callsTo(stack, 'a')[4].at;
    expect((await adminUpstreams(stack)).a).toMatchObject({ state: 'out', failures: 5, out_until: expect.any(Number) });

    // Jobs keep coming through the window, until just before its end.
    while (Date.now() < outAt + outMs - 300) jobs.push(await runJob(stack, marker(`while out #${jobs.length}`)));
    // Then, once it has passed, many at once, on two workers: one call only is the trial.
    await sleep(outAt + outMs + 50 - Date.now());
    jobs.push(...(await Promise.all(Array.from({ length: 8 }, (_, index) => runJob(stack, marker(`after the window #${index}`))))));
    for (const job of jobs) expect(job.status).toBe('succeeded');

    const times = callsTo(stack, 'a').map((call) => call.at);
    // A 50 ms margin at each end for when this busy process notes a call.
    expect(times.filter((at) => at > outAt + 50 && at < outAt + outMs - 50), 'calls to `a` inside its window out').toEqual([]);
    // Past the window one trial call went; it failed too, so `a` is out again (for another window).
    expect(times).toHaveLength(6);
    expect(times[5]).toBeGreaterThanOrEqual(outAt + outMs - 50);
    expect((await adminUpstreams(stack)).a).toMatchObject({ state: 'out', failures: 6 });

    const failedOver = jobs.filter((job) => job.attempt_log.length > 1);
    expect(failedOver).toHaveLength(6);
    for (const job of failedOver) {
      expect(job.attempts).toBe(2);
      expect(job.attempt_log).toEqual([
        logEntry({ attempt: 1, upstream: 'a', model: MODEL, outcome: 'failed', error_code: 'upstream_error' }),
        logEntry({ attempt: 2, upstream: 'b', model: MODEL, outcome: 'succeeded' }),
      ]);
    }
  });
});

describe('an upstream answering 500, with the default health settings', () => {
  const stack = usePool({ upstreams: [{ name: 'a', simulator: { ...fast, faultStatus: 500 } }, { name: 'b', simulator: fast }] });

  it('is out after the 5th failed call in a row, not the 4th, for 30 s (as Redis holds it: no wall clock is waited)', async () => {
    await runUntilCalls(stack, 'a', 4, 'four');
    expect((await adminUpstreams(stack)).a).toMatchObject({ state: 'ok', failures: 4, out_until: null });
    await runUntilCalls(stack, 'a', 5, 'five');
    const outAt = callsTo(stack, 'a')[4].at;
    const { a } = await adminUpstreams(stack);
    expect(a).toMatchObject({ state: 'out', failures: 5 });
    // out_until is whole seconds, rounded up.
    expect(a.out_until * 1000 - outAt).toBeGreaterThanOrEqual(29_000);
    expect(a.out_until * 1000 - outAt).toBeLessThanOrEqual(31_000);
    // And for now nothing reaches it.
    const later = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => runJob(stack, marker(`while out #${n}`))));
    for (const job of later) expect(job).toMatchObject({ status: 'succeeded', attempts: 1, attempt_log: [logEntry({ attempt: 1, upstream: 'b', model: MODEL, outcome: 'succeeded' })] });
    expect(callsTo(stack, 'a')).toHaveLength(5);
  });
});

describe('every upstream out at once', () => {
  const outMs = 1500;
  const stack = usePool({
    upstreams: [{ name: 'a', simulator: fast }, { name: 'b', simulator: fast }],
    upstreamHealth: { failuresToOut: 2, outMs },
    env: { SPOOL_MAX_ATTEMPTS: '3' },
  });

  it('ends jobs that fail everywhere with upstream_error after their attempts, and holds a new job (no attempt spent) until a trial call takes it', async () => {
    // Answered 500 by both: the two jobs take both upstreams out between them.
    const failing = [];
    for (const n of [1, 2]) failing.push(await runJob(stack, `[[sim status=500]] ${marker(`fails everywhere #${n}`)}`));
    for (const job of failing) {
      expect(job).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'upstream_error' } });
      expect(job.attempt_log.every((entry: any) => entry.outcome === 'failed')).toBe(true);
    }
    const upstreams = await adminUpstreams(stack);
    expect([upstreams.a.state, upstreams.b.state]).toEqual(['out', 'out']);
    const backAt = Math.min(upstreams.a.out_until, upstreams.b.out_until) * 1000;

    const content = marker('while all are out');
    const job = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(job.result.content).toBe(simulateReply({ model: MODEL, messages: messages(content) }).content);
    // Its one call was a trial, once a window had passed (out_until is rounded up to the second).
    expect(job.attempt_log).toEqual([logEntry({ attempt: 1, upstream: expect.stringMatching(/^[ab]$/), model: MODEL, outcome: 'succeeded' })]);
    const [trial] = stack.calls.filter((call) => call.messages.some((message) => message.content === content));
    expect(trial.at).toBeGreaterThan(backAt - 1000);
    expect((await adminUpstreams(stack))[trial.upstream]).toMatchObject({ state: 'ok', failures: 0 });
  });
});

describe('routing by weight', () => {
  const stack = usePool({ upstreams: [{ name: 'heavy', simulator: fast, settings: { weight: 3 } }, { name: 'light', simulator: fast, settings: { weight: 1 } }] });

  it('gives each upstream with room its share by weight, and /admin/upstreams counts the calls in flight', async () => {
    const jobs = [];
    for (let index = 0; index < 12; index++) jobs.push(await runJob(stack, `[[sim tokens=3]] ${marker(`weight #${index}`)}`));
    expect(jobs.flatMap(upstreamsOf).filter((name: string) => name === 'heavy')).toHaveLength(9);
    expect(callsTo(stack, 'light')).toHaveLength(3);

    // Two slow replies at once: both counted in flight, wherever they went, and no longer once they ended.
    const slow = Promise.all([1, 2].map((n) => runJob(stack, `[[sim tokens=30 tps=20]] ${marker(`slow #${n}`)}`)));
    await expect.poll(async () => Object.values(await adminUpstreams(stack)).reduce((sum, upstream) => sum + upstream.in_flight, 0), { timeout: 5000, interval: 50 }).toBe(2);
    for (const job of await slow) expect(job.status).toBe('succeeded');
    const after = await adminUpstreams(stack);
    expect([after.heavy.in_flight, after.light.in_flight]).toEqual([0, 0]);
  });
});

describe('a stream broken on one upstream', () => {
  const stack = usePool({ upstreams: [{ name: 'a', simulator: { ...fast, breakAfter: 6 } }, { name: 'b', simulator: fast }] });

  it('goes on on the other with on_interrupt "continue": text only appended, and the whole is exactly the uninterrupted reply', async () => {
    const content = `[[sim tokens=40]] ${marker('continue elsewhere')}`;
    const expected = simulateReply({ model: MODEL, messages: messages(content) });
    const job = await runJob(stack, content);
    const events = await readEvents(`${stack.url}${job.stream_url}`);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { content: expected.content, model: MODEL } });
    expect(joinDeltas(events)).toBe(expected.content);
    expect(events.filter((event) => event.event === 'reset')).toEqual([]);
    expect(job.attempt_log).toEqual([
      logEntry({ attempt: 1, upstream: 'a', model: MODEL, outcome: 'failed', error_code: 'upstream_error' }),
      logEntry({ attempt: 2, upstream: 'b', model: MODEL, outcome: 'succeeded' }),
    ]);
    // `b` was asked to go on from exactly what `a` had streamed.
    const [continued] = callsTo(stack, 'b');
    expect(continued.messages[0]).toEqual(messages(content)[0]);
    expect(continued.messages[1]).toEqual({ role: 'assistant', content: expected.tokens.slice(0, 6).join('') });
  });
});

describe('an upstream that hangs', () => {
  const stack = usePool({ upstreams: [{ name: 'a', simulator: fast }, { name: 'b', simulator: fast }], env: { SPOOL_STALL_TIMEOUT_MS: '400' } });

  it('times out, and the job goes on on the other, whether it hung before its first chunk or after some', async () => {
    for (const stall of [0, 4]) {
      // Jobs until one goes to `a` first (the rotation alternates); one that goes to `b` first simply succeeds there.
      let content = '';
      let job: any;
      for (let tries = 0; tries < 4 && job?.attempt_log[0].upstream !== 'a'; tries++) {
        content = `[[sim tokens=20 stall=${stall} on=a]] ${marker(`hangs after ${stall}`)}`;
        job = await runJob(stack, content);
      }
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { content: simulateReply({ model: MODEL, messages: messages(content) }).content } });
      expect(job.attempt_log).toEqual([
        logEntry({ attempt: 1, upstream: 'a', model: MODEL, outcome: 'failed', error_code: 'upstream_timeout' }),
        logEntry({ attempt: 2, upstream: 'b', model: MODEL, outcome: 'succeeded' }),
      ]);
      expect(joinDeltas(await readEvents(`${stack.url}${job.stream_url}`))).toBe(job.result.content);
    }
    expect((await adminUpstreams(stack)).a).toMatchObject({ state: 'ok', failures: 2, in_flight: 0 });
  });
});

describe('fallbacks', () => {
  const stack = usePool({
    upstreams: [
      { name: 'a', simulator: { ...fast, models: ['gpt-4o'] }, settings: { models: ['gpt-4o'] } },
      // Served under another name there (Azure's deployment names): the simulator knows only that one. Azure's key goes in a header of its own.
      {
        name: 'b',
        simulator: { ...fast, models: ['mini-deployment'] },
        // A map that names its own target is applied once, never followed: gpt-4o-mini is sent as mini-deployment.
        settings: { models: [MODEL], model_map: { [MODEL]: 'mini-deployment', 'mini-deployment': MODEL }, api_key: undefined, headers: { 'api-key': 'azure-key-b' } },
      },
    ],
    models: { 'gpt-4o': { fallbacks: [MODEL] } },
  });

  it('a model whose only upstream is paused falls back to the first fallback that has one; result.model (and the door) says so', async () => {
    const content = `[[sim status=429 retry_after_ms=20000 on=a]] ${marker('fall back')}`;
    const job = await runJob(stack, content, { model: 'gpt-4o' });
    expect(job).toMatchObject({ status: 'succeeded', model: 'gpt-4o', attempts: 1, result: { model: MODEL } });
    expect(job.result.content).toBe(simulateReply({ model: 'mini-deployment', messages: messages(content) }).content);
    expect(job.attempt_log).toEqual([
      logEntry({ attempt: 1, upstream: 'a', model: 'gpt-4o', outcome: 'rate_limited', error_code: 'upstream_rate_limited' }),
      logEntry({ attempt: 1, upstream: 'b', model: MODEL, outcome: 'succeeded' }),
    ]);

    // While `a` is paused, the OpenAI door answers for gpt-4o with the fallback, named as such.
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: marker('door') }] });
    expect(completion.model).toBe(MODEL);
    expect(callsTo(stack, 'a')).toHaveLength(1);
    expect(callsTo(stack, 'b').map((call) => call.model)).toEqual(['mini-deployment', 'mini-deployment']);
    for (const call of callsTo(stack, 'b')) expect([call.headers['api-key'], call.headers.authorization]).toEqual(['azure-key-b', undefined]);
    expect(callsTo(stack, 'a')[0].headers.authorization).toBe('Bearer sk-test');
  });

  it('lists the configured models on GET /v1/models', async () => {
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    expect((await client.models.list()).data.map((model) => model.id).sort()).toEqual(['gpt-4o', MODEL]);
  });
});

describe('fallbacks that name each other (gpt-4o -> mini -> gpt-4o)', () => {
  const stack = usePool({
    upstreams: [
      { name: 'a', simulator: fast, settings: { models: ['gpt-4o'] } },
      { name: 'b', simulator: fast, settings: { models: [MODEL] } },
    ],
    models: { 'gpt-4o': { fallbacks: [MODEL] }, [MODEL]: { fallbacks: ['gpt-4o'] } },
  });

  it('falls back when the only upstream of the model is failing: the retry goes to the fallback at once', async () => {
    const content = `[[sim status=500 on=a]] ${marker('a failing')}`;
    const job = await runJob(stack, content, { model: 'gpt-4o' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { model: MODEL } });
    expect(job.attempt_log.map((entry: any) => [entry.attempt, entry.upstream, entry.model, entry.outcome])).toEqual([
      [1, 'a', 'gpt-4o', 'failed'],
      [2, 'b', MODEL, 'succeeded'],
    ]);
  });

  it('are a chain of one step each: a paused model falls back once, and a job whose every model is paused waits, never going round', async () => {
    const callsBefore = stack.calls.length;
    const content = `[[sim status=429 retry_after_ms=1500 on=b]] ${marker('cycle')}`;
    const job = await runJob(stack, content);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, result: { model: 'gpt-4o' } });
    expect(job.attempt_log.map((entry: any) => [entry.upstream, entry.model, entry.outcome])).toEqual([
      ['b', MODEL, 'rate_limited'],
      ['a', 'gpt-4o', 'succeeded'],
    ]);

    // Now `a` pauses too (for long) while `b` still is: the job waits for `b` to come back, with no call in between.
    const both = `[[sim status=429 retry_after_ms=30000 on=a]] ${marker('both paused')}`;
    const waited = await runJob(stack, both, { model: 'gpt-4o' });
    expect(waited).toMatchObject({ status: 'succeeded', attempts: 1, result: { model: MODEL } });
    expect(waited.attempt_log.map((entry: any) => [entry.upstream, entry.model, entry.outcome])).toEqual([
      ['a', 'gpt-4o', 'rate_limited'],
      ['b', MODEL, 'succeeded'],
    ]);
    expect(stack.calls).toHaveLength(callsBefore + 4);
  });
});

describe('an upstream that answers 404 for a model', () => {
  const stack = usePool({
    upstreams: [
      { name: 'a', simulator: { ...fast, models: ['gpt-4o'] } },
      { name: 'b', simulator: { ...fast, models: [MODEL, 'gpt-4o', 'o4-mini'] } },
    ],
  });

  it('does not serve it: the job goes on to one that does, uncounted, and later jobs for that model go straight there', async () => {
    const job = await runJob(stack, marker('not served on a'));
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(job.attempt_log).toEqual([
      logEntry({ attempt: 1, upstream: 'a', model: MODEL, outcome: 'not_served', error_code: 'invalid_upstream_request' }),
      logEntry({ attempt: 1, upstream: 'b', model: MODEL, outcome: 'succeeded' }),
    ]);
    const later = await Promise.all([1, 2, 3, 4].map((n) => runJob(stack, marker(`later #${n}`))));
    for (const done of later) expect(upstreamsOf(done)).toEqual(['b']);
    expect(callsTo(stack, 'a').filter((call) => call.model === MODEL)).toHaveLength(1);
    // `a` still serves what it does serve.
    const other = await Promise.all([1, 2].map((n) => runJob(stack, marker(`gpt-4o #${n}`), { model: 'gpt-4o' })));
    expect(other.flatMap(upstreamsOf).sort()).toEqual(['a', 'b']);
  });

  it('fails a job whose model no upstream serves with the 404, after one call to each, no attempt counted twice', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { model: 'gpt-4.1', messages: messages(marker('served nowhere')) })).body;
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'invalid_upstream_request' } });
    expect(job.attempt_log.map((entry: any) => [entry.upstream, entry.outcome]).sort()).toEqual([
      ['a', 'not_served'],
      ['b', 'not_served'],
    ]);
  });

  it('lists both upstreams\' own models (they serve "*") on GET /v1/models', async () => {
    const listed = (await getJson(`${stack.url}/v1/models`)).body.data.map((model: any) => model.id);
    expect(listed).toContain('gpt-4o');
    expect(listed).toContain('o4-mini');
  });
});

describe("each upstream's own RPM", () => {
  it('holds with two workers: no 429 on either, and at most RPM/12 + 1 calls in any 5 s on each', async () => {
    const limits = { a: 120, b: 60 };
    const stack = await startPoolStack({
      workers: 2,
      upstreams: Object.entries(limits).map(([name, rpm]) => ({ name, simulator: { ...fast, rpm }, settings: { rpm } })),
    });
    try {
      const contents = Array.from({ length: 30 }, (_, index) => `[[sim tokens=5]] ${marker(`rpm #${index}`)}`);
      const jobs = await Promise.all(contents.map((content) => runJob(stack, content)));
      for (const job of jobs) expect(job.status).toBe('succeeded');
      for (const [name, rpm] of Object.entries(limits)) {
        expect(stack.simulators.get(name)!.stats.rateLimited, `429s from ${name}`).toBe(0);
        expect(busiestWindow(callsTo(stack, name).map((call) => call.at), 5000), `busiest 5 s on ${name}`).toBeLessThanOrEqual(rpm / 12 + 1);
      }
      // Both carried their share: the faster one more.
      expect(callsTo(stack, 'a').length).toBeGreaterThan(callsTo(stack, 'b').length);
      expect(callsTo(stack, 'b').length).toBeGreaterThan(5);
    } finally {
      await stack.close();
    }
  }, 60_000);
});
