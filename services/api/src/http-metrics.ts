import type { Request } from 'express';
import type { Metrics } from '@spool/metrics';
import type { RequestEndObserver } from './request-end.js';

/** The route pattern, never the raw path (ids would make a series per job); `none` when no route answered. */
function routeOf(req: Request): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'none';
}

/** Counts and times every request once it is answered, or once the client went away (SSE). */
export function httpMetrics(metrics: Metrics): RequestEndObserver {
  return (req, res, durationMs) => {
    const labels = { method: req.method, route: routeOf(req), status: String(res.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, durationMs / 1000);
  };
}
