import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { RequestEndObserver } from './request-end.js';
import { submissionLogFields } from './trace-context.js';

/** Scrapes and probes come every few seconds; they would drown the log. */
const QUIET_PATHS = new Set(['/metrics', '/healthz', '/readyz']);
const JOB_ID = /\bjob_[0-9A-Za-z]{20,}/;
/** Query parameters that carry a secret (the admin dashboard's `?key=`). */
const SECRET_PARAMS = /([?&](?:key|api_key|token)=)[^&#]*/gi;

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** The job a request is about: in its path, or the one it created (`Location`, `x-spool-job-id`). */
function jobIdOf(path: string, res: Response): string | undefined {
  for (const text of [path, res.getHeader('x-spool-job-id'), res.getHeader('location')]) {
    const match = typeof text === 'string' && text.includes('job_') ? JOB_ID.exec(text) : null;
    if (match) return match[0];
  }
  return undefined;
}

/**
 * One line per request, when it is over, with the fields pino-http gave it: `request_id` (the
 * `x-request-id` the response carries), `req` (method, url with secret query parameters blanked,
 * remote address, user agent), `job_id` when the request is about a job, `res.status_code`,
 * `duration_ms`, a submission's `trace_id` and `span_id` when tracing is on; `request completed`, `request aborted` (the client left first) or, at 5xx,
 * `request errored` with `err` at level error. Headers are left out altogether, so no key reaches
 * the log. Built only from the request and response objects: nothing is kept per request.
 */
export function httpLogging(logger: Logger): RequestEndObserver | undefined {
  // Request lines are logged at info; below that there is nothing to do per request.
  if (!logger.isLevelEnabled('info')) return undefined;
  // The line's fields are chosen here and none has a path REDACT_PATHS names (no headers, no
  // config), so the redaction pass, the dearest part of a line, is skipped; URLs are still masked.
  const requestLog = logger.child({}, { redact: [] });
  return (req: Request, res: Response, durationMs: number) => {
    const url = req.originalUrl ?? req.url;
    const path = pathOf(url);
    if (QUIET_PATHS.has(path)) return;
    const jobId = jobIdOf(path, res);
    const failed = res.statusCode >= 500;
    const line = {
      request_id: res.locals.requestId as string,
      req: {
        method: req.method,
        url: url.includes('=') ? url.replace(SECRET_PARAMS, '$1[redacted]') : url,
        remote_address: req.socket.remoteAddress,
        user_agent: req.headers['user-agent'],
      },
      ...(jobId && { job_id: jobId }),
      ...submissionLogFields(res),
      res: { status_code: res.statusCode },
      ...(failed && { err: new Error(`failed with status code ${res.statusCode}`) }),
      duration_ms: Math.round(durationMs),
    };
    if (failed) requestLog.error(line, 'request errored');
    else requestLog.info(line, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
  };
}
