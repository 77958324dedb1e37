import type { Request, RequestHandler } from 'express';
import type { Metrics } from '@spool/metrics';

/** The route pattern, never the raw path (ids would make a series per job); `none` when no route answered. */
function routeOf(req: Request): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'none';
}

/** Counts and times every request once it is answered, or once the client went away (SSE). */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    // `close` follows every answer's `finish`, and comes alone when the client leaves first.
    res.once('close', () => {
      const labels = { method: req.method, route: routeOf(req), status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    });
    next();
  };
}
