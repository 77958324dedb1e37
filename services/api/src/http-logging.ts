import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/** Scrapes and probes come every few seconds; they would drown the log. */
const QUIET_PATHS = new Set(['/metrics', '/healthz', '/readyz']);
const JOB_ID = /\bjob_[0-9A-Za-z]{20,}/;
/** Query parameters that carry a secret (the admin dashboard's `?key=`). */
const SECRET_PARAMS = /([?&](?:key|api_key|token)=)[^&#]*/gi;

interface SerializedRequest {
  method: string;
  url: string;
  remoteAddress?: string;
  headers: Record<string, string | undefined>;
}

function pathOf(url: string | undefined): string {
  return (url ?? '').split('?')[0];
}

/** The job a request is about: in its path, or the one it created (`Location`, `x-spool-job-id`). */
function jobIdOf(req: IncomingMessage, res: ServerResponse): string | undefined {
  for (const text of [pathOf(req.url), res.getHeader('x-spool-job-id'), res.getHeader('location')]) {
    const match = typeof text === 'string' ? JOB_ID.exec(text) : null;
    if (match) return match[0];
  }
  return undefined;
}

/**
 * One line per request (pino-http) with `request_id` (the `x-request-id` the response carries)
 * and `job_id` when the request is about a job; `req.log` carries the request id too. Headers
 * are left out altogether and secret query parameters blanked, so no key reaches the log.
 */
export function httpLogging(logger: Logger): RequestHandler {
  // Request lines are logged at info; below that level pino-http would only cost a child logger per request.
  if (!logger.isLevelEnabled('info')) return (_req, _res, next) => next();
  return pinoHttp({
    logger,
    genReqId: (_req, res) => (res as unknown as Response).locals.requestId as string,
    customAttributeKeys: { reqId: 'request_id', responseTime: 'duration_ms' },
    quietReqLogger: true,
    serializers: {
      req: (req: SerializedRequest) => ({
        method: req.method,
        url: req.url.replace(SECRET_PARAMS, '$1[redacted]'),
        remote_address: req.remoteAddress,
        user_agent: req.headers?.['user-agent'],
      }),
      res: (res: { statusCode: number }) => ({ status_code: res.statusCode }),
    },
    customProps: (req, res) => {
      const jobId = jobIdOf(req, res);
      return jobId ? { job_id: jobId } : {};
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    autoLogging: { ignore: (req) => QUIET_PATHS.has(pathOf(req.url)) },
  }) as unknown as RequestHandler;
}
