import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { UpstreamError } from '@spool/llm';
import { createKeys, readUpstreamStatus } from '@spool/queue';
import { callHealth, UpstreamHealth } from './upstream-health.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('UpstreamHealth on real Redis', () => {
  const keys = createKeys(`test-${randomUUID().slice(0, 12)}`);
  let redis: Redis;
  const outMs = 400;
  let health: UpstreamHealth;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    health = new UpstreamHealth(redis, keys, { failuresToOut: 3, outMs, trialLeaseMs: 60_000 });
  });
  afterAll(async () => {
    const found = await redis.keys(`${keys.prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  const state = async (upstream: string) => (await readUpstreamStatus(redis, keys, [upstream]))[0];

  /** Polls until the window out has passed and the trial is this caller's; how long that took, ms. */
  async function claimOnceDue(upstream: string): Promise<number> {
    const startedAt = Date.now();
    await expect.poll(() => health.claimTrial(upstream), { timeout: 5000, interval: 20 }).toBe('trial');
    return Date.now() - startedAt;
  }

  it('takes an upstream out on the threshold failure in a row, not before; an answer in between starts the count again', async () => {
    const upstream = `u-${randomUUID()}`;
    await health.record(upstream, 'failed', false);
    await health.record(upstream, 'failed', false);
    expect(await health.record(upstream, 'ok', false)).toEqual({ failures: 0, out: false });
    await health.record(upstream, 'failed', false);
    expect(await health.record(upstream, 'failed', false)).toEqual({ failures: 2, out: false });
    expect(await health.claimTrial(upstream)).toBe('in');
    expect(await health.record(upstream, 'failed', false)).toEqual({ failures: 3, out: true });
    expect((await state(upstream)).outForMs).toBeGreaterThan(outMs - 100);
  });

  it('keeps it out for the window, then gives one call the trial; its success brings the upstream back', async () => {
    const upstream = `u-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await health.record(upstream, 'failed', false);
    const outAt = Date.now();
    expect(await health.claimTrial(upstream)).toBe('out');
    await claimOnceDue(upstream);
    expect(Date.now() - outAt).toBeGreaterThanOrEqual(outMs - 20);
    // One trial at a time: the next caller finds it taken.
    expect(await health.claimTrial(upstream)).toBe('out');
    expect(await state(upstream)).toMatchObject({ outForMs: 0, trialInFlight: true });
    expect(await health.record(upstream, 'ok', true)).toEqual({ failures: 0, out: false });
    expect(await health.claimTrial(upstream)).toBe('in');
    expect(await state(upstream)).toMatchObject({ outForMs: undefined, failures: 0 });
  });

  it('a failed trial takes it out for another whole window; an aborted one lets the next call try', async () => {
    const upstream = `u-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await health.record(upstream, 'failed', false);
    await claimOnceDue(upstream);
    await health.record(upstream, 'neutral', true);
    expect(await health.claimTrial(upstream)).toBe('trial');
    expect(await health.record(upstream, 'failed', true)).toEqual({ failures: 4, out: true });
    expect(await health.claimTrial(upstream)).toBe('out');
    expect(await claimOnceDue(upstream)).toBeGreaterThanOrEqual(outMs - 100);
  });

  it('does not stretch the window for calls that were in flight when it began and fail after', async () => {
    const upstream = `u-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await health.record(upstream, 'failed', false);
    const before = (await state(upstream)).outForMs!;
    expect(await health.record(upstream, 'failed', false)).toEqual({ failures: 4, out: true });
    expect((await state(upstream)).outForMs).toBeLessThanOrEqual(before);
  });

  it('counts 5xx, timeouts and broken connections as failures, any other answer as an answer, and an abort as nothing', () => {
    expect(callHealth()).toBe('ok');
    expect(callHealth(new UpstreamError('upstream_error', 'Upstream answered 500', true, { status: 500 }))).toBe('failed');
    expect(callHealth(new UpstreamError('upstream_timeout', 'slow', true))).toBe('failed');
    expect(callHealth(new Error('socket hang up'))).toBe('failed');
    expect(callHealth(new UpstreamError('upstream_rate_limited', 'Upstream answered 429', true, { status: 429 }))).toBe('ok');
    expect(callHealth(new UpstreamError('invalid_upstream_request', 'Upstream answered 404', false, { status: 404 }))).toBe('ok');
    expect(callHealth(new UpstreamError('interrupted', 'aborted', true))).toBe('neutral');
  });
});
