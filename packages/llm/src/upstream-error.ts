import { APIError, APIConnectionTimeoutError, APIUserAbortError } from 'openai';
import { parseRetryAfterMs } from './rate-limit-headers.js';

export type UpstreamErrorCode =
  | 'upstream_rate_limited'
  | 'insufficient_quota'
  | 'invalid_upstream_request'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'interrupted';

/** An upstream failure with the decision on it: retry or not, and after how long. */
export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamError';
  }

  get status(): number | undefined {
    return this.options.status;
  }

  get retryAfterMs(): number | undefined {
    return this.options.retryAfterMs;
  }

  /** A 429 for rate, not quota: the whole queue waits, not just this job. */
  get rateLimited(): boolean {
    return this.code === 'upstream_rate_limited';
  }
}

const FAIL_FAST = new Set([400, 401, 403, 404, 422]);

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
    const message = `Upstream answered ${status}: ${error.message}`.slice(0, 500);
    const retryAfterMs = parseRetryAfterMs(error.headers);
    if (status === 429 && errorCode(error) === 'insufficient_quota') {
      return new UpstreamError('insufficient_quota', message, false, { status, cause: error });
    }
    if (status === 429) return new UpstreamError('upstream_rate_limited', message, true, { status, retryAfterMs, cause: error });
    if (FAIL_FAST.has(status)) return new UpstreamError('invalid_upstream_request', message, false, { status, cause: error });
    if (status >= 300 && status < 400) {
      const hint = `${message} (redirects are not followed: set OPENAI_BASE_URL to the address it points to)`;
      return new UpstreamError('invalid_upstream_request', hint, false, { status, cause: error });
    }
    return new UpstreamError('upstream_error', message, true, { status, retryAfterMs, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError('upstream_error', `Upstream connection failed: ${message}`.slice(0, 500), true, { cause: error });
}
