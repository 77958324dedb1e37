import { readUpstreamStatus, upstreamState, type UpstreamState } from '@spool/queue';
import type { AppDeps } from './deps.js';

/** One upstream in `GET /admin/upstreams` (API.md §13). Timestamps are Unix seconds. */
export interface UpstreamEntry {
  name: string;
  state: UpstreamState;
  /** while `paused`: when its 429 (or spent budget) pause ends */
  paused_until: number | null;
  /** while `out`: when its window out ends (a trial call goes then; it is back once one succeeds) */
  out_until: number | null;
  /** failed calls in a row (5xx, timeout, connection error) */
  failures: number;
  /** calls in flight, over every worker */
  in_flight: number;
  /** the last `x-ratelimit-remaining-requests` it sent; null: none seen in the last 10 minutes */
  ratelimit_remaining_requests: number | null;
  /** the last `x-ratelimit-remaining-tokens` it sent; null: none seen in the last 10 minutes */
  ratelimit_remaining_tokens: number | null;
  models: string[];
  weight: number;
  rpm: number | null;
  tpm: number | null;
}

const untilSeconds = (ms: number) => Math.ceil((Date.now() + ms) / 1000);

/** Every configured upstream as the workers see it in Redis now, in the configuration's order. */
export async function listUpstreams(deps: Pick<AppDeps, 'config' | 'redis' | 'keys'>): Promise<UpstreamEntry[]> {
  const { upstreams } = deps.config;
  const statuses = await readUpstreamStatus(deps.redis, deps.keys, upstreams.map((upstream) => upstream.name));
  return statuses.map((status, index) => ({
    name: status.name,
    state: upstreamState(status),
    paused_until: status.pausedForMs > 0 ? untilSeconds(status.pausedForMs) : null,
    out_until: status.outForMs !== undefined ? untilSeconds(status.outForMs) : null,
    failures: status.failures,
    in_flight: status.inFlight,
    ratelimit_remaining_requests: status.remainingRequests,
    ratelimit_remaining_tokens: status.remainingTokens,
    models: upstreams[index].models,
    weight: upstreams[index].weight,
    rpm: upstreams[index].rpm ?? null,
    tpm: upstreams[index].tpm ?? null,
  }));
}
