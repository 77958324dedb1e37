import { describe, expect, it } from 'vitest';
import { UpstreamError } from '@spool/llm';
import { decide, DEFAULT_RATE_LIMIT_PAUSE_MS, MAX_DEFERRALS, PrepareRequestError, type AttemptState } from './attempt-rules.js';
import { UpstreamGateError } from './upstream-gate.js';
import { UpstreamUnavailableError } from './upstream-pool.js';

const state = (overrides: Partial<AttemptState> = {}): AttemptState => ({ attempt: 1, deferrals: 0, maxAttempts: 3, backoffMs: 1000, stopping: false, ...overrides });

const rateLimited = (retryAfterMs?: number) => new UpstreamError('upstream_rate_limited', 'Upstream answered 429: slow down', true, { status: 429, retryAfterMs });
const serverError = () => new UpstreamError('upstream_error', 'Upstream answered 503: busy', true, { status: 503 });
const badRequest = () => new UpstreamError('invalid_upstream_request', 'Upstream answered 400: no', false, { status: 400 });
const gateDown = () => new UpstreamGateError(new Error('connect ECONNREFUSED'));
const storeDown = () => new PrepareRequestError(new Error('store unreachable'));
const notFound = () => new UpstreamError('invalid_upstream_request', 'Upstream answered 404: no such model', false, { status: 404 });

describe('decide: what becomes of a failed attempt', () => {
  it('hands the job back at once when the worker is stopping, whatever the attempt failed with', () => {
    for (const thrown of [serverError(), badRequest(), rateLimited(5000), gateDown()]) {
      expect(decide(thrown, state({ stopping: true, attempt: 3 }))).toMatchObject({ kind: 'defer', reason: 'shutdown', delayMs: 0 });
    }
  });

  it('defers a gate or store outage with backoff that doubles with each deferral', () => {
    for (const thrown of [gateDown(), storeDown()]) {
      const first = decide(thrown, state({ deferrals: 0 }));
      expect(first).toMatchObject({ kind: 'defer', reason: 'outage', cause: thrown });
      if (first.kind !== 'defer') throw new Error('unreachable');
      expect(first.delayMs).toBeGreaterThanOrEqual(500);
      expect(first.delayMs).toBeLessThanOrEqual(1000);
      const fourth = decide(thrown, state({ deferrals: 3 }));
      if (fourth.kind !== 'defer') throw new Error(`expected a deferral, got ${fourth.kind}`);
      expect(fourth.delayMs).toBeGreaterThanOrEqual(4000);
      expect(fourth.delayMs).toBeLessThanOrEqual(8000);
    }
  });

  it('defers an outage on the last attempt too: it was not the job that failed', () => {
    expect(decide(gateDown(), state({ attempt: 3, maxAttempts: 3 }))).toMatchObject({ kind: 'defer', reason: 'outage' });
  });

  it(`fails an outage that outlasts ${MAX_DEFERRALS} deferrals as interrupted`, () => {
    expect(decide(storeDown(), state({ deferrals: MAX_DEFERRALS - 1 }))).toMatchObject({ kind: 'defer', reason: 'outage' });
    expect(decide(storeDown(), state({ deferrals: MAX_DEFERRALS }))).toEqual({
      kind: 'fail',
      reason: 'outage',
      error: { code: 'interrupted', message: 'The job could not be completed' },
      cause: expect.any(PrepareRequestError),
    });
  });

  it("defers a 429 for upstream's retry-after, pausing the queue, even on the last attempt", () => {
    expect(decide(rateLimited(700), state({ attempt: 3, maxAttempts: 3 }))).toMatchObject({ kind: 'defer', reason: 'rate_limit', delayMs: 700 });
    expect(decide(rateLimited(), state())).toMatchObject({ kind: 'defer', reason: 'rate_limit', delayMs: DEFAULT_RATE_LIMIT_PAUSE_MS });
  });

  it(`treats a 429 after ${MAX_DEFERRALS} deferrals as an ordinary retryable error`, () => {
    const error = rateLimited(700);
    expect(decide(error, state({ deferrals: MAX_DEFERRALS, attempt: 1 }))).toEqual({ kind: 'retry', cause: error });
    expect(decide(error, state({ deferrals: MAX_DEFERRALS, attempt: 3, maxAttempts: 3 }))).toEqual({
      kind: 'fail',
      reason: 'upstream',
      error: { code: 'upstream_rate_limited', message: 'Upstream answered 429: slow down' },
      upstreamStatus: 429,
      cause: error,
    });
  });

  it('retries a retryable upstream error while attempts remain, then fails with it', () => {
    const error = serverError();
    expect(decide(error, state({ attempt: 2, maxAttempts: 3 }))).toEqual({ kind: 'retry', cause: error });
    expect(decide(error, state({ attempt: 3, maxAttempts: 3 }))).toEqual({
      kind: 'fail',
      reason: 'upstream',
      error: { code: 'upstream_error', message: 'Upstream answered 503: busy' },
      upstreamStatus: 503,
      cause: error,
    });
  });

  it('fails a non-retryable upstream error on the first attempt', () => {
    expect(decide(badRequest(), state({ attempt: 1 }))).toMatchObject({ kind: 'fail', reason: 'upstream', error: { code: 'invalid_upstream_request' }, upstreamStatus: 400 });
  });

  it('classifies anything else thrown (a broken connection) as a retryable upstream error', () => {
    const decision = decide(new Error('socket hang up'), state());
    expect(decision).toMatchObject({ kind: 'retry', cause: { code: 'upstream_error', retryable: true } });
  });

  describe('with a pool of upstreams (readyInMs: how soon another could take the job)', () => {
    it('hands a 429 back for when another upstream is free, not for the whole retry-after', () => {
      expect(decide(rateLimited(20_000), state({ readyInMs: 0 }))).toMatchObject({ kind: 'defer', reason: 'rate_limit', delayMs: 0 });
      expect(decide(rateLimited(20_000), state({ readyInMs: 3000 }))).toMatchObject({ kind: 'defer', reason: 'rate_limit', delayMs: 3000 });
      expect(decide(rateLimited(2000), state({ readyInMs: 3000 }))).toMatchObject({ delayMs: 2000 });
    });

    it('retries a retryable failure at once when another upstream can take it, with backoff when none can now', () => {
      expect(decide(serverError(), state({ readyInMs: 0 }))).toMatchObject({ kind: 'retry', failover: true });
      expect(decide(serverError(), state({ readyInMs: 5000 }))).toEqual({ kind: 'retry', cause: expect.any(UpstreamError) });
      expect(decide(serverError(), state({ attempt: 3, readyInMs: 0 }))).toMatchObject({ kind: 'fail' });
    });

    it("defers a 404 (the model is not served there) to another upstream that serves it, and fails it when none does", () => {
      expect(decide(notFound(), state({ readyInMs: 0 }))).toMatchObject({ kind: 'defer', reason: 'not_served', delayMs: 0 });
      expect(decide(notFound(), state())).toMatchObject({ kind: 'fail', error: { code: 'invalid_upstream_request' }, upstreamStatus: 404 });
    });

    it(`defers a job no upstream can take for a while, and fails it as upstream_error after ${MAX_DEFERRALS} deferrals`, () => {
      const unavailable = new UpstreamUnavailableError(12_000);
      expect(decide(unavailable, state({ attempt: 3 }))).toMatchObject({ kind: 'defer', reason: 'unavailable', delayMs: 12_000 });
      expect(decide(unavailable, state({ deferrals: MAX_DEFERRALS }))).toMatchObject({ kind: 'fail', error: { code: 'upstream_error' } });
    });
  });
});
