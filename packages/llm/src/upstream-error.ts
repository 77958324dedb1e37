import { APIError, APIConnectionTimeoutError, APIUserAbortError } from 'openai';
import { SpoolError } from '@spool/contracts';
import { parseRetryAfterMs } from './rate-limit-headers.js';

export type UpstreamErrorCode =
  | 'upstream_rate_limited'
  | 'insufficient_quota'
  | 'invalid_upstream_request'
  | 'upstream_auth_error'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'interrupted';

/** An upstream failure with the decision on it: retry or not, and after how long. The root of the package's errors. */
export class UpstreamError extends SpoolError {
  declare readonly code: UpstreamErrorCode;

  constructor(
    code: UpstreamErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly options: { status?: number; retryAfterMs?: number; cause?: unknown; upstreamMessage?: string } = {},
  ) {
    super(code, message, { cause: options.cause });
  }

  get status(): number | undefined {
    return this.options.status;
  }

  get retryAfterMs(): number | undefined {
    return this.options.retryAfterMs;
  }

  /** What upstream itself said, keys masked: for operators' logs, while `message` is what tenants see. */
  get upstreamMessage(): string | undefined {
    return this.options.upstreamMessage;
  }

  /** A 429 for rate, not quota: the whole queue waits, not just this job. */
  get rateLimited(): boolean {
    return this.code === 'upstream_rate_limited';
  }
}

const FAIL_FAST = new Set([400, 401, 403, 404, 422]);
const AUTH_FAILED = new Set([401, 403]);
/** Told to tenants instead of upstream's own words, which may quote part of the key. */
export const UPSTREAM_AUTH_MESSAGE = "The upstream rejected Spool's credentials; an operator must check the upstream key";

// Key-like words: OpenAI masks most of a key it quotes, other upstreams may not mask it at all.
const KEY_LIKE = /\b(?:sk|rk|pk|gsk|xai|key)[-_][\w*-]{6,}|\bBearer\s+\S+|[\w-]{32,}/gi;

const maskKeys = (text: string) => text.replace(KEY_LIKE, '[redacted]');

function errorCode(error: APIError): string | undefined {
  const body = error.error as { code?: unknown; type?: unknown } | undefined;
  const code = error.code ?? body?.code ?? body?.type;
  return typeof code === 'string' ? code : undefined;
}

/** The one mapping from whatever the SDK or the network threw to an `UpstreamError`. */
export function classifyUpstreamError(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof APIConnectionTimeoutError) {
    return new UpstreamError('upstream_timeout', 'Upstream did not answer in time', true, { cause: error });
  }
  if (error instanceof APIUserAbortError) {
    return new UpstreamError('interrupted', 'Upstream request aborted', true, { cause: error });
  }
  if (error instanceof APIError && error.status !== undefined) {
    const status = error.status;
    const upstreamMessage = maskKeys(error.message).slice(0, 500);
    const message = `Upstream answered ${status}: ${upstreamMessage}`.slice(0, 500);
    const retryAfterMs = parseRetryAfterMs(error.headers);
    const details = { status, cause: error, upstreamMessage };
    const code = errorCode(error);
    if (AUTH_FAILED.has(status) || code === 'invalid_api_key') return new UpstreamError('upstream_auth_error', UPSTREAM_AUTH_MESSAGE, false, details);
    if (status === 429 && code === 'insufficient_quota') return new UpstreamError('insufficient_quota', message, false, details);
    if (status === 429) return new UpstreamError('upstream_rate_limited', message, true, { ...details, retryAfterMs });
    if (FAIL_FAST.has(status)) return new UpstreamError('invalid_upstream_request', message, false, details);
    if (status >= 300 && status < 400) {
      const hint = `${message} (redirects are not followed: set OPENAI_BASE_URL to the address it points to)`;
      return new UpstreamError('invalid_upstream_request', hint, false, details);
    }
    return new UpstreamError('upstream_error', message, true, { ...details, retryAfterMs });
  }
  const upstreamMessage = maskKeys(error instanceof Error ? error.message : String(error)).slice(0, 500);
  return new UpstreamError('upstream_error', `Upstream connection failed: ${upstreamMessage}`.slice(0, 500), true, { cause: error, upstreamMessage });
}
