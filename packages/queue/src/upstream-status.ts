import type { RedisClient } from './redis.js';
import type { Keys } from './keys.js';

/** An upstream as every worker sees it in Redis at one moment. */
export interface UpstreamStatus {
  name: string;
  /** ms left of a pause (a 429, or a budget its headers said was spent); 0: none */
  pausedForMs: number;
  /** ms until the gate's next request and token slots are free; 0: a call may go now */
  nextSlotMs: number;
  /** taken out by its health: ms left of the window (0: a trial call is due); undefined: in */
  outForMs?: number;
  /** the one trial call of an upstream that is out is on its way */
  trialInFlight: boolean;
  /** failed calls in a row (5xx, timeout, connection error) */
  failures: number;
  /** calls in flight, fleet-wide */
  inFlight: number;
  /** the last `x-ratelimit-remaining-requests` / `-tokens` it sent; null: never seen */
  remainingRequests: number | null;
  remainingTokens: number | null;
  /** it answered 404 for the model asked about (not served there, for a while) */
  notServed: boolean;
}

/** What an operator is told: `out` (health) before `paused` (rate limit) before `ok`. */
export type UpstreamState = 'ok' | 'paused' | 'out';

export function upstreamState(status: Pick<UpstreamStatus, 'outForMs' | 'pausedForMs'>): UpstreamState {
  if (status.outForMs !== undefined) return 'out';
  return status.pausedForMs > 0 ? 'paused' : 'ok';
}

const numberOr = (value: unknown, fallback: number): number => {
  const parsed = Number(value);
  return value === null || value === undefined || value === '' || !Number.isFinite(parsed) ? fallback : parsed;
};
// What is not a finite number (written by an older version, or by hand) is shown as none: never NaN.
const numberOrNull = (value: unknown): number | null => {
  const parsed = numberOr(value, Number.NaN);
  return Number.isNaN(parsed) ? null : parsed;
};

/**
 * Reads the named upstreams' gates, health, calls in flight and last rate-limit headers in one
 * round trip, on Redis's clock (the scripts that write them use it). `model`: also whether each
 * answered 404 for that model. Rejects when Redis does.
 */
export async function readUpstreamStatus(redis: RedisClient, keys: Keys, names: readonly string[], model?: string): Promise<UpstreamStatus[]> {
  const pipeline = redis.pipeline().time();
  const localNow = Date.now();
  const perUpstream = model === undefined ? 4 : 5;
  for (const name of names) {
    pipeline
      .hmget(keys.upstreamGate(name), 'next_request', 'next_token', 'paused_until')
      .hmget(keys.upstreamHealth(name), 'failures', 'out_until', 'trial_until')
      .zcount(keys.upstreamInFlight(name), localNow, '+inf')
      .hmget(keys.upstreamRateLimit(name), 'requests', 'tokens');
    if (model !== undefined) pipeline.exists(keys.upstreamNotServed(name, model));
  }
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  const [seconds, micros] = replies[0][1] as [string, string];
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  return names.map((name, index) => {
    const at = 1 + index * perUpstream;
    const [nextRequest, nextToken, pausedUntil] = replies[at][1] as (string | null)[];
    const [failures, outUntil, trialUntil] = replies[at + 1][1] as (string | null)[];
    const [remainingRequests, remainingTokens] = replies[at + 3][1] as (string | null)[];
    const out = outUntil === null ? undefined : Math.max(0, numberOr(outUntil, 0) - now);
    return {
      name,
      pausedForMs: Math.max(0, Math.ceil(numberOr(pausedUntil, 0) - now)),
      nextSlotMs: Math.max(0, Math.ceil(Math.max(numberOr(nextRequest, 0), numberOr(nextToken, 0)) - now)),
      outForMs: out,
      trialInFlight: numberOr(trialUntil, 0) > now,
      failures: numberOr(failures, 0),
      inFlight: replies[at + 2][1] as number,
      remainingRequests: numberOrNull(remainingRequests),
      remainingTokens: numberOrNull(remainingTokens),
      notServed: model !== undefined && (replies[at + 4][1] as number) > 0,
    };
  });
}

/** What the `spool_upstream_*` gauges show of each upstream, read now. */
export async function readUpstreamGauges(redis: RedisClient, keys: Keys, names: readonly string[]) {
  return (await readUpstreamStatus(redis, keys, names)).map((status) => ({
    name: status.name,
    available: upstreamState(status) === 'ok',
    remainingRequests: status.remainingRequests,
    remainingTokens: status.remainingTokens,
  }));
}
