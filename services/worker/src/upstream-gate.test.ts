import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { UpstreamRequest } from '@spool/contracts';
import { countPromptTokens } from '@spool/llm';
import { acquireEarliest, estimateTokens, parsePauseAnnouncement, UpstreamGate, UpstreamGateError, UpstreamPausedError } from './upstream-gate.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A wait the test does not sit through: the gate still reserves the slot and says how far off it is. */
const dontWait = () => AbortSignal.abort();

describe('UpstreamGate on real Redis', () => {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const found = await redis.keys(`${prefix}:*`);
    if (found.length) await redis.unlink(...found);
    await redis.quit();
  });

  const gateKey = () => `${prefix}:gate:${randomUUID()}`;
  const newGate = (options: { rpm?: number; tpm?: number }, key = gateKey()) => new UpstreamGate(redis, key, options);

  interface Reservation {
    wait: number;
    /** ms from just before the first call to just after this one answered */
    elapsed: number;
  }

  /** The slots of `count` calls reserved back to back. */
  async function reserve(gate: UpstreamGate, count: number, tokens: number): Promise<Reservation[]> {
    const startedAt = Date.now();
    const reservations: Reservation[] = [];
    for (let i = 0; i < count; i++) {
      const wait = await gate.acquire(tokens, dontWait());
      reservations.push({ wait, elapsed: Date.now() - startedAt });
    }
    return reservations;
  }

  /**
   * Slot i lies `step * i` after the first one: each wait is whole ms, at most that, and short of
   * it only by the time that passed since the first call (plus a ms of rounding between clocks).
   */
  function expectSpaced(reservations: Reservation[], step: number): void {
    for (const [index, { wait, elapsed }] of reservations.entries()) {
      expect(Number.isInteger(wait), `wait ${wait} is whole ms`).toBe(true);
      expect(wait).toBeLessThanOrEqual(Math.ceil(step * index));
      expect(wait).toBeGreaterThanOrEqual(step * index - elapsed - 2);
    }
  }

  it('spaces calls by a fractional gap (60000 TPM: 1.02 ms a token) in whole ms, without an error', async () => {
    const key = gateKey();
    const reservations = await reserve(newGate({ tpm: 60_000 }, key), 6, 7);
    expectSpaced(reservations, 7 * 1.02);
    // The hash expires two minutes after the last slot it holds (a TTL Redis took: whole ms).
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(110_000);
    expect(ttl).toBeLessThanOrEqual(120_000 + reservations[reservations.length - 1].wait);
  });

  it('spaces calls by a fractional gap (7 RPM: 8742.86 ms a request) in whole ms', async () => {
    expectSpaced(await reserve(newGate({ rpm: 7 }), 3, 1), (60_000 / 7) * 1.02);
  });

  it('takes the later of the RPM and the TPM slot', async () => {
    // 600 RPM: 102 ms a request; 60000 TPM: 1020 ms for 1000 tokens.
    expectSpaced(await reserve(newGate({ rpm: 600, tpm: 60_000 }), 3, 1000), 1020);
    expectSpaced(await reserve(newGate({ rpm: 600, tpm: 60_000 }), 3, 10), 102);
  });

  it('waits for its slot when not told to stop, and tells how long that was', async () => {
    const gate = newGate({ tpm: 60_000 });
    await gate.acquire(400);
    const startedAt = Date.now();
    const wait = await gate.acquire(400);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(408);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(wait - 2);
  });

  it('correct: moves the token slot by the difference between estimate and usage', async () => {
    const gate = newGate({ tpm: 60_000 });
    const startedAt = Date.now();
    await gate.acquire(1000, dontWait());
    await gate.correct(1000, 100);
    // Only the 100 tokens used still hold the next call back: 102 ms, not 1020.
    const wait = await gate.acquire(1, dontWait());
    expect(wait).toBeLessThanOrEqual(102);
    expect(wait).toBeGreaterThanOrEqual(102 - (Date.now() - startedAt) - 2);
  });

  it('correct to 0 (a call that failed before using anything) gives its whole charge back', async () => {
    const gate = newGate({ tpm: 60_000 });
    await gate.acquire(100_000, dontWait());
    expect(await gate.acquire(1, dontWait())).toBeGreaterThan(100_000);
    await gate.correct(100_000, 0);
    await gate.correct(1, 0);
    expect(await gate.acquire(1, dontWait())).toBe(0);
  });

  it('observe: a spent request budget holds every call for one request\'s share of the minute, not the whole reset', async () => {
    const gate = newGate({});
    const startedAt = Date.now();
    await gate.observe({ remainingRequests: 0, resetRequestsMs: 30_000, limitRequests: 7 });
    const wait = await gate.acquire(1, dontWait());
    expect(wait).toBeLessThanOrEqual(Math.ceil(60_000 / 7));
    expect(wait).toBeGreaterThanOrEqual(60_000 / 7 - (Date.now() - startedAt) - 2);
  });

  it('observe: a spent token budget holds calls for 1000 tokens\' share, or until the reset if that is sooner', async () => {
    const gate = newGate({});
    const startedAt = Date.now();
    await gate.observe({ remainingTokens: 0, resetTokensMs: 90_000, limitTokens: 60_000 });
    const wait = await gate.acquire(1, dontWait());
    expect(wait).toBeLessThanOrEqual(1000);
    expect(wait).toBeGreaterThanOrEqual(1000 - (Date.now() - startedAt) - 2);

    const soon = newGate({});
    await soon.observe({ remainingTokens: 0, resetTokensMs: 300, limitTokens: 60_000 });
    expect(await soon.acquire(1, dontWait())).toBeLessThanOrEqual(300);
  });

  it('observe: budget left holds nothing back', async () => {
    const gate = newGate({});
    await gate.observe({ remainingRequests: 5, resetRequestsMs: 30_000, remainingTokens: 1000, resetTokensMs: 30_000 });
    expect(await gate.acquire(1, dontWait())).toBe(0);
  });

  it('pause: a shorter pause never shortens a longer one', async () => {
    const key = gateKey();
    await newGate({}, key).pause(60_000);
    await newGate({}, key).pause(1_000);
    const wait = await newGate({ rpm: 60 }, key).acquire(1, dontWait());
    expect(wait).toBeGreaterThan(59_000);
    expect(wait).toBeLessThanOrEqual(60_000);
  });

  it('correct: with no token slot reserved (the gate expired) there is nothing to move, and nothing is written', async () => {
    const key = gateKey();
    await newGate({ tpm: 60_000 }, key).correct(1000, 10);
    expect(await redis.exists(key)).toBe(0);
  });

  it('sleeps through a wait longer than setTimeout can take, reserving one slot, not one a millisecond', async () => {
    const key = gateKey();
    const tokenGapMs = 60_000 * 1.02; // TPM 1
    const gate = newGate({ tpm: 1 }, key);
    expect(await gate.acquire(40_000, dontWait())).toBe(0); // the next call waits 40,000 token gaps: past 2^31 ms
    // Given up after 200 ms; an overflowing timer would have woken at once and taken a slot again and again.
    const first = await gate.acquire(1, AbortSignal.timeout(200));
    expect(first).toBeGreaterThan(2 ** 31);
    const next = await newGate({ tpm: 1 }, key).acquire(1, dontWait());
    expect(next).toBeLessThanOrEqual(first + tokenGapMs + 1000);
  });

  it('keeps any 5 s within RPM/12 departures when calls leave their slots late, all at once', async () => {
    const departures = `${prefix}:departures:${randomUUID()}`;
    const gate = new UpstreamGate(redis, gateKey(), { rpm: 120, departuresKey: departures });
    // Ten calls (120/12) left 4.8 s ago: the next may go once the oldest is 5 s old, about 200 ms from now.
    const [seconds, micros] = await redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    await redis.zadd(departures, ...Array.from({ length: 10 }, (_, index) => [String(now - 4800 + index), `early-${index}`]).flat());
    const startedAt = Date.now();
    const held = await gate.acquire(1);
    expect(held).toBeGreaterThanOrEqual(150);
    expect(held).toBeLessThanOrEqual(300);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);
    // Those older than 5 s are gone, this call is counted, and the window holds at most ten.
    const window = await redis.zrange(departures, '0', '-1');
    expect(window).not.toContain('early-0');
    expect(window.filter((member) => !member.startsWith('early-'))).toHaveLength(1);
    expect(window.length).toBeLessThanOrEqual(10);
    // With room in the window a call leaves at once.
    expect(await new UpstreamGate(redis, gateKey(), { rpm: 1200, departuresKey: departures }).acquire(1)).toBe(0);
  });

  it('acquireEarliest: reserves the earliest slot among several gates, the first listed on a tie, in one step', async () => {
    // 600 RPM: 102 ms a slot; 300 RPM: 204 ms.
    const fast = newGate({ rpm: 600 });
    const slow = newGate({ rpm: 300 });
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { index } = await acquireEarliest(redis, [slow, fast], 1);
      picks.push(index === 0 ? 'slow' : 'fast');
    }
    // Both free: the first listed; then whichever slot comes first: the fast gate twice as often.
    expect(picks).toEqual(['slow', 'fast', 'fast', 'slow', 'fast', 'fast']);
    // A paused gate is passed over while another has a slot.
    await fast.pause(60_000);
    expect(await acquireEarliest(redis, [fast, slow], 1)).toMatchObject({ index: 1 });
  });

  it("announces a pause with its upstream's name, and a gate told of it checks Redis instead of its own empty record", async () => {
    const key = gateKey();
    const channel = `${key}:pause`;
    const listener = new Redis(REDIS_URL);
    try {
      await listener.subscribe(channel);
      const announced = new Promise<string>((resolve) => listener.once('message', (_channel: string, message: string) => resolve(message)));
      await newGate({}, key).pause(1000);
      await new UpstreamGate(redis, key, { pauseChannel: channel, upstream: 'azure-east' }).pause(1200);
      expect(parsePauseAnnouncement(await announced)).toEqual({ upstream: 'azure-east', ms: 1200 });
      expect(parsePauseAnnouncement('1200')).toBeUndefined();
    } finally {
      listener.disconnect();
    }
    // Another worker's gate knows of no pause, so it calls at once; once told, it waits out the pause.
    const elsewhere = newGate({}, key);
    expect(await elsewhere.acquire(1, dontWait())).toBe(0);
    elsewhere.notePause(1200);
    expect(await elsewhere.acquire(1, dontWait())).toBeGreaterThan(900);
  });

  it('leaveWhenPaused: a paused gate reserves nothing and says how long the pause is; one paused while the call slept is left too', async () => {
    const key = gateKey();
    const gate = newGate({ rpm: 600 }, key);
    await gate.pause(5000);
    const left = await gate.acquire(1, undefined, undefined, true).catch((error: unknown) => error);
    expect(left).toBeInstanceOf(UpstreamPausedError);
    expect((left as UpstreamPausedError).pausedForMs).toBeGreaterThan(4000);
    expect(await redis.hget(key, 'next_request')).toBeNull();

    // A slot 100 ms off, and a pause that lands while the call sleeps toward it.
    const other = newGate({ rpm: 600 }, gateKey());
    expect(await other.acquire(1)).toBe(0);
    const waiting = other.acquire(1, undefined, undefined, true).catch((error: unknown) => error);
    await other.pause(5000);
    expect(await waiting).toBeInstanceOf(UpstreamPausedError);
  });

  it('holds a pause of at most an hour, however long upstream asks for', async () => {
    const key = gateKey();
    await newGate({}, key).pause(Infinity);
    const wait = await newGate({ rpm: 60 }, key).acquire(1, dontWait());
    expect(wait).toBeGreaterThan(3_599_000);
    expect(wait).toBeLessThanOrEqual(3_600_000);
  });

  it('fails with UpstreamGateError, never a bare Redis error, when Redis refuses the gate\'s script', async () => {
    const key = gateKey();
    await redis.set(key, 'not a hash');
    const failure = await newGate({ tpm: 60_000 }, key).acquire(10).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UpstreamGateError);
    expect((failure as Error).cause).toBeInstanceOf(Error);
  });
});

describe('estimateTokens', () => {
  const messages = [{ role: 'user' as const, content: 'Write a haiku about queues' }];
  const prompt = countPromptTokens(messages);
  const request = (extra: Partial<UpstreamRequest>): UpstreamRequest => ({ model: 'gpt-4o-mini', messages, ...extra });

  it('charges the prompt and the reply limit, or 256 for a reply of unknown length', () => {
    expect(estimateTokens(request({ max_tokens: 200 }), prompt)).toBe(prompt + 200);
    expect(estimateTokens(request({ max_completion_tokens: 300, max_tokens: 200 }), prompt)).toBe(prompt + 300);
    expect(estimateTokens(request({}), prompt)).toBe(prompt + 256);
  });

  it('never charges more than the model\'s context window (max_tokens 5,000,000)', () => {
    expect(estimateTokens(request({ max_tokens: 5_000_000 }), prompt)).toBe(128_000);
    expect(estimateTokens(request({ model: 'gpt-4-0613', max_tokens: 5_000_000 }), prompt)).toBe(8_192);
    expect(estimateTokens(request({ model: 'llama3:8b', max_tokens: 5_000_000 }), prompt)).toBe(128_000);
  });
});
