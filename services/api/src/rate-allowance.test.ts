import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { rateScriptRedis } from '../../../test/support/rate-script.js';
import { RateAllowance, type ChargeRequests } from './rate-allowance.js';

type Reply = [allowed: number, remaining: number, retryMs: number, resetMs: number, prepaid: number];

describe('RateAllowance: requests prepaid in Redis, spent without waiting for it', () => {
  const { prefix, redis, close } = rateScriptRedis<{ spoolClientRate(key: string, ...args: number[]): Promise<Reply> }>();
  afterAll(close);

  /** The key's real check on Redis, counting the round trips it makes. */
  function chargeOn(key: string, rpm: number): ChargeRequests & { calls: number } {
    const interval = 60_000 / rpm;
    const charge = Object.assign(
      async (requests: 0 | 1, extra: number, keep: number) => {
        charge.calls++;
        const [allowed, remaining, retryMs, resetMs, prepaid] = await redis.spoolClientRate(`${prefix}:${key}`, interval, 60_000 - interval, requests, extra, keep);
        return { allowed: allowed === 1, remaining, retryMs, resetMs, prepaid };
      },
      { calls: 0 },
    );
    return charge;
  }

  it('client-rate.lua prepays only while the room left after it is at least what it must keep', async () => {
    const key = `${prefix}:lua`;
    // 10 a minute: one every 6 s, a minute's worth at once
    const [interval, tolerance] = [6_000, 54_000];
    expect(await redis.spoolClientRate(key, interval, tolerance, 1, 4, 4)).toEqual([1, 5, 0, expect.any(Number), 4]);
    expect(await redis.spoolClientRate(key, interval, tolerance, 1, 4, 4)).toEqual([1, 4, 0, expect.any(Number), 0]);
    // a check that charges nothing and prepays nothing writes nothing
    const stored = await redis.get(key);
    expect((await redis.spoolClientRate(key, interval, tolerance, 0, 4, 4)).slice(0, 2)).toEqual([1, 4]);
    expect(await redis.get(key)).toBe(stored);
  });

  it('answers a busy key from prepaid requests: a sixteenth of a minute’s worth per round trip, the headers counting down', async () => {
    const charge = chargeOn('busy', 1600);
    const allowance = new RateAllowance(1600, charge);
    const first = await allowance.admit();
    expect(first).toMatchObject({ allowed: true, remaining: 1599 });
    expect(charge.calls).toBe(1);
    const next = [];
    for (let i = 0; i < 49; i++) next.push(await allowance.admit());
    // 100 prepaid with the first: 49 more asked Redis nothing
    expect(charge.calls).toBe(1);
    expect(next.map((verdict) => verdict.remaining)).toEqual(Array.from({ length: 49 }, (_, i) => 1598 - i));
    // down to half the prepayment, the next is prepaid meanwhile: the requests never wait for it
    for (let i = 0; i < 100; i++) expect(await allowance.admit()).toMatchObject({ allowed: true });
    expect(charge.calls).toBeLessThanOrEqual(4);
  });

  it('never admits more than the limit, however many processes prepay for one key', async () => {
    const rpm = 160;
    const processes = [0, 1, 2].map(() => new RateAllowance(rpm, chargeOn('shared', rpm)));
    const started = Date.now();
    let allowed = 0;
    for (let round = 0; round < 100; round++) {
      const verdicts = await Promise.all(processes.map((allowance) => allowance.admit()));
      allowed += verdicts.filter((verdict) => verdict.allowed).length;
    }
    const refilled = Math.ceil(((Date.now() - started) * rpm) / 60_000);
    expect(allowed).toBeLessThanOrEqual(rpm + refilled);
    // what the others hold prepaid and unspent is all that is refused early: two leases of 10
    expect(allowed).toBeGreaterThanOrEqual(rpm - 2 * (rpm / 16));
  });

  it('spends a prepaid request only within its refill time of the charge; later it asks Redis again', async () => {
    let now = performance.now();
    const charge = chargeOn('expiry', 1600);
    const allowance = new RateAllowance(1600, charge, () => now);
    await allowance.admit();
    await allowance.admit();
    expect(charge.calls).toBe(1);
    // 100 prepaid at 37.5 ms each: 3.75 s after the charge the bucket could have drained past them
    now += 3_750;
    await allowance.admit();
    expect(charge.calls).toBe(2);
  });

  it('asks Redis for every request of a key under 16 a minute', async () => {
    const charge = chargeOn('small', 10);
    const allowance = new RateAllowance(10, charge);
    for (let i = 0; i < 3; i++) await allowance.admit();
    expect(charge.calls).toBe(3);
  });

  it('a burst just before the prepaid batch expires admits no more than the plain check would (a minute’s worth, plus what refilled)', async () => {
    const rpm = 600;
    const interval = 60_000 / rpm;
    const allowance = new RateAllowance(rpm, chargeOn('burst', rpm));
    expect((await allowance.admit()).allowed).toBe(true); // charges 1 and prepays 37
    // The bucket refills the 38 in 3.8 s; the prepaid batch is usable until 3.7 s.
    await sleep(3_500);
    const started = performance.now();
    let admitted = 0;
    while (admitted < 1_000 && (await allowance.admit()).allowed) admitted++;
    const refilled = Math.ceil((performance.now() - started) / interval);
    // The plain check: the bucket was full at the burst's start, so a minute's worth plus what refilled meanwhile.
    expect(admitted).toBeLessThanOrEqual(rpm + refilled + 1);
  });
});
