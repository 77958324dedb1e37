import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { RedisClient } from '@spool/queue';
import { ApiError } from '@spool/contracts';
import { TenantQuotaError } from '@spool/jobs';
import { lateRefusal } from './client-rate-limit.js';
import { submissionLogFields } from './trace-context.js';

interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
}

/** Errors thrown by body parsing and other Express middleware, in the contract's terms. */
function fromHttpError(error: HttpError): ApiError | undefined {
  const status = error.status ?? error.statusCode;
  if (error.type === 'entity.too.large' || status === 413) {
    return new ApiError(413, 'invalid_request_error', 'request_too_large', 'The request body is too large');
  }
  if (status && status >= 400 && status < 500) {
    return new ApiError(status, 'invalid_request_error', error.type ?? 'invalid_request', 'The request could not be read');
  }
  return undefined;
}

/** Spool's own refusals, in the contract's terms. */
function fromDomainError(error: unknown): ApiError | undefined {
  if (error instanceof TenantQuotaError) {
    return new ApiError(429, 'rate_limit_error', error.code, error.message, null, { 'retry-after': String(error.retryAfterSeconds) });
  }
  return undefined;
}

/**
 * The one place internal errors become the public envelope; no library message or stack leaks.
 * A request the rate limit decided on while it went on (a submission) is answered with that
 * refusal, if it was refused, whatever else went wrong first.
 */
export function errorHandler(logger: Logger, redis: RedisClient): ErrorRequestHandler {
  return (thrown, _req, res, _next) => {
    void lateRefusal(res).then((refusal) => answer(refusal ?? thrown, res));
  };

  function answer(error: unknown, res: Response): void {
    let apiError = error instanceof ApiError ? error : (fromDomainError(error) ?? fromHttpError(error as HttpError));
    if (!apiError) {
      const redisDown = redis.status !== 'ready';
      logger.error({ err: error, request_id: res.locals.requestId, ...submissionLogFields(res) }, redisDown ? 'Redis unavailable' : 'unhandled error');
      apiError = redisDown
        ? ApiError.unavailable('Redis is unavailable; try again shortly')
        : new ApiError(500, 'api_error', 'internal_error', `Internal error (request ${res.locals.requestId})`);
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(apiError.status).set(apiError.headers).json(apiError.toEnvelope());
  }
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'invalid_request_error', 'unknown_url', `Unknown request URL: ${req.method} ${req.path}`));
};
