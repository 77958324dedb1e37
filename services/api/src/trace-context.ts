import type { RequestHandler } from 'express';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NewJob } from '@spool/jobs';
import type { ChatJobData } from '@spool/queue';
import { activeTraceparent, contextOf, spoolTracer } from '@spool/tracing';

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
 * caller's `traceparent` when it sent a valid one. It is active while the request is handled,
 * so the jobs recorded meanwhile carry it (`jobTrace`).
 */
export function traceSubmissions(): RequestHandler {
  const tracer = spoolTracer();
  return (req, res, next) => {
    const route = req.method === 'POST' ? routeOf(req.path) : undefined;
    if (!route) return next();
    const caller = req.headers.traceparent;
    const span = tracer.startSpan(
      `POST ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': route, 'url.path': req.path } },
      contextOf(typeof caller === 'string' ? caller : undefined),
    );
    res.once('close', () => {
      const status = res.statusCode;
      span.setAttribute('http.response.status_code', status);
      const id = createdId(res.getHeader('x-spool-job-id')) ?? createdId(res.getHeader('location'));
      if (id) span.setAttribute(id.startsWith('job_') ? 'spool.job.id' : 'spool.batch.id', id);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
      if (!res.writableFinished) span.setAttribute('spool.response.aborted', true);
      span.end();
    });
    context.with(trace.setSpan(context.active(), span), next);
  };
}

/** What a job made now records of its trace: the active span's `traceparent` and the time; nothing when tracing is off. */
export function jobTrace(): Pick<NewJob, 'traceparent' | 'queuedAtMs'> {
  const traceparent = activeTraceparent();
  return traceparent ? { traceparent, queuedAtMs: Date.now() } : {};
}

/** The trace fields a queue entry carries beside its request, so the worker reads them without a round trip. */
export function carriedTrace(job: NewJob): Pick<ChatJobData, 'traceparent' | 'queuedAtMs'> {
  return job.traceparent ? { traceparent: job.traceparent, queuedAtMs: job.queuedAtMs ?? undefined } : {};
}
