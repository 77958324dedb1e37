import type { JobError } from '@spool/contracts';
import { classifyUpstreamError, type UpstreamError } from '@spool/llm';
import { retryDelayMs } from './backoff.js';
import { DEFAULT_RATE_LIMIT_PAUSE_MS } from './upstream-pool.js';

export { DEFAULT_RATE_LIMIT_PAUSE_MS };
import { UpstreamGateError } from './upstream-gate.js';
import { UpstreamUnavailableError } from './upstream-pool.js';
import { BudgetExceededError, BudgetUnavailableError } from './errors.js';
import { StoreUnavailableError } from '@spool/store';

/*
 * How a chat job moves between attempts (the scripts in @spool/jobs hold the state; these are the
 * worker's rules for driving them):
 *
 * - Owner token. Every attempt picks a fresh token; START makes it the job's `owner`, and APPEND,
 *   REQUEUE and FINISH write only for that owner. An attempt whose job was cancelled or taken over
 *   (another worker's START) can write nothing more, so it just stops.
 * - Attempts. START counts one in `attempts` (BullMQ counts every pickup too, so a takeover after
 *   a dead worker is an attempt). A retry hands the job back counted; `maxAttempts` of them and
 *   the job fails with the last error.
 * - Deferrals. When the job is not at fault (the worker is stopping, a 429, our own gate or store
 *   is down, a head start that must step aside, no upstream of the model can take a call for a
 *   while, an upstream that does not serve the model while another does) the attempt is given
 *   back: REQUEUE with refund takes it off `attempts` and adds one to `deferrals`. Past
 *   MAX_DEFERRALS a 429 costs attempts like any retryable error and an outage fails the job as
 *   `interrupted`.
 * - Failover (API.md §13). A 429 or a 404 of one upstream hands the job back for when another can
 *   take it (at once, if one can); a retryable failure is retried at once when another upstream
 *   can take it, else with backoff. The next attempt's routing leaves out the upstream it failed on.
 */

/**
 * Attempts given back (rate limits, hand-backs, gate or store outages) before a 429 starts costing
 * attempts and an outage fails the job. With backoff capped at 60 s, 50 outlast most outages.
 */
export const MAX_DEFERRALS = 50;

/** A fresh job's log holds `queued` and this attempt's `running`; anything more came before. */
export const FRESH_EVENT_COUNT = 2;

/** The store, or Redis, out of reach for now: a job waits that out. Any other error is a fault, and costs the attempt. */
export function isUnreachable(error: unknown): boolean {
  return error instanceof StoreUnavailableError || (error instanceof Error && ['ReplyError', 'MaxRetriesPerRequestError'].includes(error.name));
}

/** The job's request could not be prepared (the store of its session history was unreachable): not the job's fault. */
export class PrepareRequestError extends Error {
  constructor(cause: unknown) {
    super("the job's request could not be prepared", { cause });
    this.name = 'PrepareRequestError';
  }
}

/** Where an attempt stands when it fails. */
export interface AttemptState {
  /** this attempt's number (the job's `attempts` after START) */
  attempt: number;
  /** attempts given back so far (the job's `deferrals`) */
  deferrals: number;
  /** SPOOL_MAX_ATTEMPTS */
  maxAttempts: number;
  /** first delay of a job waiting out a gate or store outage, ms (SPOOL_BACKOFF_MS) */
  backoffMs: number;
  /** the worker is stopping (BullMQ aborted the attempt for shutdown) */
  stopping: boolean;
  /**
   * how soon an upstream could take the job's next call (for its model or a fallback), leaving
   * out the one a failed call was on: 0 at once; undefined when none (one upstream, or none other
   * serves the model)
   */
  readyInMs?: number;
}

/** What becomes of a failed attempt. */
export type Decision =
  /** given back uncounted, to run again in `delayMs` */
  | { kind: 'defer'; reason: 'shutdown' | 'outage' | 'rate_limit' | 'unavailable' | 'not_served'; delayMs: number; cause: unknown }
  /** handed back counted; BullMQ's backoff picks the delay, or none when `failover` (another upstream takes it) */
  | { kind: 'retry'; cause: UpstreamError; failover?: true }
  /** the job ends as failed */
  | { kind: 'fail'; reason: 'outage' | 'unavailable' | 'budget'; error: JobError; cause: unknown }
  | { kind: 'fail'; reason: 'upstream'; error: JobError; upstreamStatus?: number; cause: UpstreamError };

/** Our own gate (Redis), budget or store failed before upstream was called. */
function isOutage(error: unknown): boolean {
  return error instanceof UpstreamGateError || error instanceof PrepareRequestError || error instanceof BudgetUnavailableError;
}

/** The one decision on a failed attempt: retry, fail, or give it back for later. */
export function decide(thrown: unknown, state: AttemptState): Decision {
  if (state.stopping) return { kind: 'defer', reason: 'shutdown', delayMs: 0, cause: thrown };
  if (thrown instanceof BudgetExceededError) return { kind: 'fail', reason: 'budget', error: { code: thrown.code, message: thrown.message }, cause: thrown };
  const deferralsLeft = state.deferrals < MAX_DEFERRALS;
  if (isOutage(thrown)) {
    if (deferralsLeft) return { kind: 'defer', reason: 'outage', delayMs: retryDelayMs(state.deferrals + 1, state.backoffMs), cause: thrown };
    return { kind: 'fail', reason: 'outage', error: { code: 'interrupted', message: 'The job could not be completed' }, cause: thrown };
  }
  if (thrown instanceof UpstreamUnavailableError) {
    if (deferralsLeft) return { kind: 'defer', reason: 'unavailable', delayMs: thrown.retryAfterMs, cause: thrown };
    return { kind: 'fail', reason: 'unavailable', error: { code: 'upstream_error', message: 'No upstream serving the model was available' }, cause: thrown };
  }
  const error = classifyUpstreamError(thrown);
  const elsewhere = state.readyInMs;
  // A 429 that never clears (a request larger than the whole TPM) must not defer the job forever.
  if (error.rateLimited && deferralsLeft) {
    return { kind: 'defer', reason: 'rate_limit', delayMs: Math.min(error.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS, elsewhere ?? Infinity), cause: error };
  }
  if (error.status === 404 && elsewhere !== undefined && deferralsLeft) return { kind: 'defer', reason: 'not_served', delayMs: elsewhere, cause: error };
  if (error.retryable && state.attempt < state.maxAttempts) return { kind: 'retry', cause: error, ...(elsewhere === 0 && { failover: true as const }) };
  return { kind: 'fail', reason: 'upstream', error: { code: error.code, message: error.message }, upstreamStatus: error.status, cause: error };
}
