import type { UpstreamStatus } from '@spool/queue';

/** How long a caller waits for an upstream whose trial call is on its way, before it looks again. */
export const TRIAL_WAIT_MS = 1000;

/** An upstream that serves a model, as routing sees it. */
export interface Candidate {
  name: string;
  weight: number;
  status: UpstreamStatus;
}

/** A model to try and the upstreams configured to serve it: the job's own first, then its fallbacks in order. */
export interface ModelChoice {
  model: string;
  candidates: Candidate[];
}

/**
 * Where a call goes: the upstream, the model it is asked for, whether it is that upstream's
 * trial, and how long it must wait first (a pause, or the rest of a window out).
 * `alternatives`: other upstreams of the model that can take it now, in order of preference
 * after `upstream`; whichever gate has the earliest slot then takes the call (`acquireEarliest`).
 */
export type Route = { kind: 'call'; upstream: string; model: string; trial: boolean; waitMs: number; alternatives?: string[] } | { kind: 'none' };

/**
 * Smooth weighted round robin (nginx's), one state per set of upstreams: over any run of picks
 * each upstream gets its share by weight, spread out, and the heaviest goes first.
 */
export class WeightedRotation {
  private readonly current = new Map<string, Map<string, number>>();

  pick(candidates: readonly Pick<Candidate, 'name' | 'weight'>[]): string {
    if (candidates.length === 1) return candidates[0].name;
    const key = candidates.map((candidate) => candidate.name).join('\n');
    const state = this.current.get(key) ?? new Map<string, number>();
    this.current.set(key, state);
    let total = 0;
    let best: string | undefined;
    for (const { name, weight } of candidates) {
      const value = (state.get(name) ?? 0) + weight;
      state.set(name, value);
      total += weight;
      if (best === undefined || value > state.get(best)!) best = name;
    }
    state.set(best!, state.get(best!)! - total);
    return best!;
  }
}

/** How long before `status`'s upstream can take a call: its pause, or what is left of its window out. */
export function waitFor(status: UpstreamStatus): number {
  const out = status.outForMs === undefined ? 0 : status.outForMs > 0 ? status.outForMs : status.trialInFlight ? TRIAL_WAIT_MS : 0;
  return Math.max(status.pausedForMs, out);
}

const available = (candidate: Candidate, avoid: ReadonlySet<string>) => !candidate.status.notServed && !avoid.has(candidate.name) && waitFor(candidate.status) === 0;
const isTrial = (status: UpstreamStatus) => status.outForMs !== undefined;

/**
 * The one routing decision (API.md §13):
 * 1. the job's model, on an upstream that serves it and can take a call now; one whose trial is
 *    due goes first (so it comes back), then those with a free gate slot by weight, else the
 *    soonest slot (the others as `alternatives`: the earliest slot is taken when reserving);
 * 2. else the first fallback model that has such an upstream;
 * 3. else the job's model (or, if no upstream is configured for it, its first fallback that has
 *    one) on the upstream free soonest, `avoid` included: the call waits for it. Upstreams that
 *    answered 404 for the model count only when every one did (the answer may have changed).
 * `avoid`: upstreams the job's last call failed on, left out of 1 and 2.
 */
export function chooseRoute(chain: readonly ModelChoice[], rotation: WeightedRotation, avoid: ReadonlySet<string> = new Set()): Route {
  for (const { model, candidates } of chain) {
    const ready = candidates.filter((candidate) => available(candidate, avoid));
    if (ready.length === 0) continue;
    const trial = ready.find((candidate) => isTrial(candidate.status));
    if (trial) return { kind: 'call', upstream: trial.name, model, trial: true, waitMs: 0 };
    const free = ready.filter((candidate) => candidate.status.nextSlotMs === 0);
    const soonest = Math.min(...ready.map((candidate) => candidate.status.nextSlotMs));
    const upstream = rotation.pick(free.length ? free : ready.filter((candidate) => candidate.status.nextSlotMs === soonest));
    const alternatives = ready.map((candidate) => candidate.name).filter((name) => name !== upstream);
    return { kind: 'call', upstream, model, trial: false, waitMs: 0, ...(alternatives.length && { alternatives }) };
  }
  for (const { model, candidates } of chain) {
    if (candidates.length === 0) continue;
    const served = candidates.filter((candidate) => !candidate.status.notServed);
    const pool = served.length ? served : candidates;
    const best = pool.reduce((soonest, candidate) => (waitFor(candidate.status) < waitFor(soonest.status) ? candidate : soonest));
    return { kind: 'call', upstream: best.name, model, trial: isTrial(best.status), waitMs: waitFor(best.status) };
  }
  return { kind: 'none' };
}

/**
 * How soon the job could go to an upstream other than those in `avoid`, for its model or a
 * fallback (steps 1 and 2 of `chooseRoute`): 0 at once; undefined when none serves them.
 */
export function soonestElsewhere(chain: readonly ModelChoice[], avoid: ReadonlySet<string> = new Set()): number | undefined {
  let soonest: number | undefined;
  for (const { candidates } of chain) {
    for (const candidate of candidates) {
      if (candidate.status.notServed || avoid.has(candidate.name)) continue;
      soonest = Math.min(soonest ?? Infinity, waitFor(candidate.status));
    }
  }
  return soonest;
}
