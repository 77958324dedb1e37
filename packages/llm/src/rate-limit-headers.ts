type HeaderSource = Headers | Record<string, string | null | undefined> | undefined;

function header(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  return (headers as Record<string, string | undefined>)[name] ?? undefined;
}

/** The longest wait an upstream may ask for: a longer one is a fault, and would hold the queue for good. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Whole milliseconds (Redis takes no fractions), at most MAX_RETRY_AFTER_MS (Infinity included). */
function boundedMs(ms: number): number {
  return Math.min(Math.ceil(ms), MAX_RETRY_AFTER_MS);
}

/** `retry-after-ms`, else `retry-after` in seconds or as an HTTP date; undefined when absent. */
export function parseRetryAfterMs(headers: HeaderSource, now = Date.now()): number | undefined {
  const ms = Number(header(headers, 'retry-after-ms'));
  if (header(headers, 'retry-after-ms') && Number.isFinite(ms) && ms >= 0) return boundedMs(ms);
  const value = header(headers, 'retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return boundedMs(seconds * 1000);
  // Only an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`): V8 reads "-5" as a date in 2001, which would be no wait at all.
  const date = /[A-Za-z]{3}/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(date) ? undefined : boundedMs(Math.max(0, date - now));
}

/** OpenAI's reset durations: "20ms", "1.5s", "6m0s", "1h2m3s"; whole ms, at most MAX_RETRY_AFTER_MS. */
export function parseDurationMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const pattern = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = false;
  for (const [, amount, unit] of value.matchAll(pattern)) {
    matched = true;
    total += Number(amount) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  }
  return matched ? boundedMs(total) : undefined;
}

export interface RateLimitSnapshot {
  limitRequests?: number;
  limitTokens?: number;
  remainingRequests?: number;
  remainingTokens?: number;
  resetRequestsMs?: number;
  resetTokensMs?: number;
}

/**
 * The `x-ratelimit-*` headers an OpenAI-compatible upstream sends with every answer. A value that
 * is not a count (`-5`, `1e400`, `abc`; a limit of 0) is taken as not sent: an upstream's, or a
 * proxy's, nonsense must neither pause it nor show operators a figure that means nothing.
 */
export function parseRateLimitHeaders(headers: HeaderSource): RateLimitSnapshot {
  const count = (name: string, least: number) => {
    const value = header(headers, name)?.trim();
    const parsed = Number(value);
    return !value || !Number.isFinite(parsed) || parsed < least ? undefined : Math.floor(parsed);
  };
  return {
    limitRequests: count('x-ratelimit-limit-requests', 1),
    limitTokens: count('x-ratelimit-limit-tokens', 1),
    remainingRequests: count('x-ratelimit-remaining-requests', 0),
    remainingTokens: count('x-ratelimit-remaining-tokens', 0),
    resetRequestsMs: parseDurationMs(header(headers, 'x-ratelimit-reset-requests')),
    resetTokensMs: parseDurationMs(header(headers, 'x-ratelimit-reset-tokens')),
  };
}
