import { describe, expect, it } from 'vitest';
import type { UpstreamStatus } from '@spool/queue';
import { chooseRoute, soonestElsewhere, TRIAL_WAIT_MS, WeightedRotation, type Candidate, type ModelChoice } from './route-upstream.js';

const status = (overrides: Partial<UpstreamStatus> = {}): UpstreamStatus => ({
  name: 'x',
  pausedForMs: 0,
  nextSlotMs: 0,
  outForMs: undefined,
  trialInFlight: false,
  failures: 0,
  inFlight: 0,
  remainingRequests: null,
  remainingTokens: null,
  notServed: false,
  ...overrides,
});
const candidate = (name: string, overrides: Partial<UpstreamStatus> = {}, weight = 1): Candidate => ({ name, weight, status: status({ name, ...overrides }) });
const only = (model: string, ...candidates: Candidate[]): ModelChoice => ({ model, candidates });
const route = (chain: ModelChoice[], avoid: string[] = [], rotation = new WeightedRotation()) => chooseRoute(chain, rotation, new Set(avoid));

describe('WeightedRotation', () => {
  it('spreads picks by weight, heaviest first, interleaved rather than in runs', () => {
    const rotation = new WeightedRotation();
    const picks = Array.from({ length: 8 }, () => rotation.pick([candidate('a', {}, 3), candidate('b', {}, 1)]));
    expect(picks).toEqual(['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });

  it('alternates between equal weights, the first listed first', () => {
    const rotation = new WeightedRotation();
    expect(Array.from({ length: 4 }, () => rotation.pick([candidate('a'), candidate('b')]))).toEqual(['a', 'b', 'a', 'b']);
  });
});

describe('chooseRoute', () => {
  it('prefers an upstream of its model with a free gate slot, the others after it (the earliest slot takes the call)', () => {
    expect(route([only('m', candidate('a', { nextSlotMs: 300 }), candidate('b'))])).toEqual({ kind: 'call', upstream: 'b', model: 'm', trial: false, waitMs: 0, alternatives: ['a'] });
    // None free: the soonest slot first.
    expect(route([only('m', candidate('a', { nextSlotMs: 300 }), candidate('b', { nextSlotMs: 200 }))])).toMatchObject({ upstream: 'b', waitMs: 0, alternatives: ['a'] });
    // Alone: no alternatives.
    expect(route([only('m', candidate('a', { nextSlotMs: 300 }), candidate('b', { pausedForMs: 200 }))])).toEqual({ kind: 'call', upstream: 'a', model: 'm', trial: false, waitMs: 0 });
  });

  it('leaves out upstreams that are paused, out, not serving the model, or the one the last call failed on', () => {
    const chain = [only('m', candidate('paused', { pausedForMs: 5000 }), candidate('out', { outForMs: 9000 }), candidate('404', { notServed: true }), candidate('failed'), candidate('ok'))];
    expect(route(chain, ['failed'])).toMatchObject({ upstream: 'ok', model: 'm' });
  });

  it("gives an upstream whose window out has passed its trial call first, unless another call is the trial", () => {
    expect(route([only('m', candidate('a'), candidate('b', { outForMs: 0 }))])).toMatchObject({ upstream: 'b', trial: true, waitMs: 0 });
    expect(route([only('m', candidate('a'), candidate('b', { outForMs: 0, trialInFlight: true }))])).toMatchObject({ upstream: 'a', trial: false });
  });

  it('falls back to the first fallback model that has an available upstream when none of the model has', () => {
    const chain = [only('big', candidate('a', { pausedForMs: 20_000 })), only('medium', candidate('b', { outForMs: 4000 })), only('small', candidate('c'))];
    expect(route(chain)).toEqual({ kind: 'call', upstream: 'c', model: 'small', trial: false, waitMs: 0 });
  });

  it('with nothing available, waits for the upstream of the model free soonest, the avoided one included', () => {
    const waiting = [only('m', candidate('a', { pausedForMs: 8000 }), candidate('b', { outForMs: 3000 }))];
    expect(route(waiting)).toEqual({ kind: 'call', upstream: 'b', model: 'm', trial: true, waitMs: 3000 });
    // One upstream, its last call failed: it is still where the retry goes.
    expect(route([only('m', candidate('a'))], ['a'])).toMatchObject({ upstream: 'a', waitMs: 0 });
    expect(route([only('m', candidate('a', { outForMs: 0, trialInFlight: true }))])).toMatchObject({ waitMs: TRIAL_WAIT_MS });
  });

  it('calls an upstream that answered 404 again when every one did (the answer may have changed), and none when none is configured', () => {
    expect(route([only('m', candidate('a', { notServed: true }))])).toMatchObject({ kind: 'call', upstream: 'a' });
    expect(route([only('m'), only('fallback')])).toEqual({ kind: 'none' });
    // No upstream configured for the model itself: its first fallback that has one, waited for.
    expect(route([only('m'), only('fallback', candidate('a', { pausedForMs: 2000 }))])).toMatchObject({ upstream: 'a', model: 'fallback', waitMs: 2000 });
  });
});

describe('soonestElsewhere', () => {
  it('says how soon an upstream other than the avoided one could take the job: 0 now, else the shortest wait, else undefined', () => {
    expect(soonestElsewhere([only('m', candidate('a'), candidate('b'))], new Set(['a']))).toBe(0);
    expect(soonestElsewhere([only('m', candidate('a'), candidate('b', { pausedForMs: 700 })), only('f', candidate('c', { outForMs: 500 }))], new Set(['a']))).toBe(500);
    expect(soonestElsewhere([only('m', candidate('a'), candidate('b', { notServed: true }))], new Set(['a']))).toBeUndefined();
  });
});
