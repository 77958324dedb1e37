import { UpstreamError } from '@spool/llm';
import { FailoverError } from './errors.js';

const MAX_BACKOFF_MS = 60_000;

/**
 * Exponential backoff with full jitter over the upper half: attempt n waits between
 * half and all of base * 2^(n-1), capped at 60 s, and never less than upstream's retry-after.
 * A failover (another upstream takes the retry) goes at once.
 */
export function retryDelayMs(attemptsMade: number, baseMs: number, error?: unknown, random = Math.random): number {
  if (error instanceof FailoverError) return 0;
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  const delay = Math.round(ceiling / 2 + (random() * ceiling) / 2);
  const retryAfter = error instanceof UpstreamError ? (error.retryAfterMs ?? 0) : 0;
  return Math.max(delay, retryAfter);
}
