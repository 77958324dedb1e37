import { ApiError, CompletionWindow, type BatchMode } from '@spool/contracts';
import { upstreamForModel } from '@spool/config';
import type { NewJob } from '@spool/jobs';
import type { AppDeps } from './deps.js';

/** How a batch runs: live, or through one upstream's Batch API. */
export type BatchRouting = { mode: Extract<BatchMode, 'live'> } | { mode: Extract<BatchMode, 'provider'>; upstream: string };

const LIVE: BatchRouting = { mode: 'live' };

/** `?completion_window=` (how a JSONL upload asks for it); 400 naming the field for any value but `24h`. */
export function completionWindowQuery(value: unknown): CompletionWindow | null {
  if (value === undefined) return null;
  const parsed = CompletionWindow.safeParse(value);
  if (!parsed.success) throw ApiError.invalid(`Invalid 'completion_window': ${parsed.error.issues[0].message}`, 'completion_window');
  return parsed.data;
}

/**
 * A batch that asked for `completion_window` goes through the upstream's Batch API when it can:
 * its requests share one model (an upstream batch holds one model), an upstream serves that model,
 * and that upstream has not lately answered 404 to its Batch API (the worker notes it, and the
 * batch then runs live). Otherwise it runs live. So does every batch of a tenant with a budget:
 * an upstream batch is paid for whole, after the fact, and could not be held to the budget the
 * way each live call is (reserved before it goes).
 */
export async function routeBatch(deps: AppDeps, jobs: NewJob[], completionWindow: CompletionWindow | null): Promise<BatchRouting> {
  if (!completionWindow) return LIVE;
  if (deps.config.tenants.get(jobs[0].tenant)?.budgetUsd !== undefined) return LIVE;
  const model = jobs[0].request.model;
  if (jobs.some((job) => job.request.model !== model)) return LIVE;
  const upstream = upstreamForModel(deps.config.upstreams, model);
  if (!upstream) return LIVE;
  if (await deps.redis.exists(deps.keys.providerBatchUnsupported(upstream.name))) return LIVE;
  return { mode: 'provider', upstream: upstream.name };
}
