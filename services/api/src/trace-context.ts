import type { Request, RequestHandler, Response } from 'express';
import { SpanKind } from '@opentelemetry/api';
import type { NewJob } from '@spool/jobs';
import type { ChatJobData } from '@spool/queue';
import type { HandedSpan, OffThreadTracer } from '@spool/tracing';

export type JobTrace = Pick<NewJob, 'traceparent' | 'queuedAtMs'>;

/** The requests that submit jobs, by path: each is a span, and the jobs it makes join its trace. */
const SUBMISSIONS: [RegExp, string][] = [
  [/^\/v1\/jobs\/?$/, '/v1/jobs'],
  [/^\/v1\/chat\/completions\/?$/, '/v1/chat/completions'],
  [/^\/v1\/batches\/?$/, '/v1/batches'],
  [/^\/v1\/jobs\/[^/]+\/continue\/?$/, '/v1/jobs/{id}/continue'],
];

function routeOf(path: string): string | undefined {
  return SUBMISSIONS.find(([pattern]) => pattern.test(path))?.[1];
}

/** The job or batch a submission made, as its answer names it. */
function createdId(header: unknown): string | undefined {
  return typeof header === 'string' ? /\b((?:job|batch)_[0-9A-Za-z]+)/.exec(header)?.[1] : undefined;
}

/**
 * One server span per job submission (installed only when tracing is on), the child of the
 * caller's `traceparent` when it sent a valid one. It rides on the response (`submissionSpan`),
 * not in an async context: the jobs the request makes carry it (`jobTrace`), and its log line
 * names it.
 */
export function traceSubmissions(tracer: OffThreadTracer): RequestHandler {
  return (req, res, next) => {
    const route = req.method === 'POST' ? routeOf(req.path) : undefined;
    if (!route) return next();
    const caller = req.headers.traceparent;
    const attributes = { 'http.request.method': 'POST', 'http.route': route, 'url.path': req.path };
    res.locals.span = tracer.startSpan(`POST ${route}`, SpanKind.SERVER, attributes, typeof caller === 'string' ? caller : undefined);
    next();
  };
}

/** Ends a submission's span when its response is over (a `RequestEndObserver`), with its outcome. */
export function endSubmissionSpan(_req: Request, res: Response): void {
  const span = submissionSpan(res);
  if (!span) return;
  const status = res.statusCode;
  span.setAttribute('http.response.status_code', status);
  const id = createdId(res.getHeader('x-spool-job-id')) ?? createdId(res.getHeader('location'));
  if (id) span.setAttribute(id.startsWith('job_') ? 'spool.job.id' : 'spool.batch.id', id);
  if (status >= 500) span.fail(`HTTP ${status}`);
  if (!res.writableFinished) span.setAttribute('spool.response.aborted', true);
  span.end();
}

/** The span of the submission `res` answers; undefined when tracing is off or the request submits nothing. */
export function submissionSpan(res: Response): HandedSpan | undefined {
  return res.locals.span as HandedSpan | undefined;
}

/** `trace_id` and `span_id` of a submission's span, for its log lines; empty without one. */
export function spanLogFields(span: HandedSpan | undefined): { trace_id?: string; span_id?: string } {
  return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

/** `spanLogFields` of the submission `res` answers. */
export function submissionLogFields(res: Response): { trace_id?: string; span_id?: string } {
  return spanLogFields(submissionSpan(res));
}

/** What a job made now records of its trace: its submission span's `traceparent` and the time; nothing without a span. */
export function jobTrace(span: HandedSpan | undefined): JobTrace {
  return span ? { traceparent: span.traceparent, queuedAtMs: Date.now() } : {};
}

/** The trace fields a queue entry carries beside its request, so the worker reads them without a round trip. */
export function carriedTrace(job: NewJob): Pick<ChatJobData, 'traceparent' | 'queuedAtMs'> {
  return job.traceparent ? { traceparent: job.traceparent, queuedAtMs: job.queuedAtMs ?? undefined } : {};
}
