import express, { type Express, type Request } from 'express';
import { createMetrics, registerFleetMetrics, registerTenantMetrics } from '@spool/metrics';
import { readFleetCounts } from '@spool/jobs';
import { readUpstreamGauges } from '@spool/queue';
import type { AppDeps } from './deps.js';
import { requestId } from './request-id.js';
import { openApiDocument } from './openapi.js';
import { authenticate } from './auth.js';
import { clientRateLimit } from './client-rate-limit.js';
import { errorHandler, notFound } from './error-handler.js';
import { healthRouter } from './routes/health.js';
import { jobsRouter } from './routes/jobs.js';
import { sessionsRouter } from './routes/sessions.js';
import { eventsRouter } from './routes/events.js';
import { openaiRouter } from './routes/openai.js';
import { batchesRouter } from './routes/batches.js';
import { deliveriesRouter } from './routes/deliveries.js';
import { httpLogging } from './http-logging.js';
import { httpMetrics } from './http-metrics.js';
import { onRequestEnd } from './request-end.js';
import { metricsRouter } from './routes/metrics.js';
import { adminRouter } from './routes/admin.js';
import { playgroundRouter } from './routes/playground.js';
import { streamSlots } from './tenant-slots.js';
import { usageRouter } from './routes/usage.js';
import { tenantFigures } from './tenant-usage.js';
import { endSubmissionSpan, traceSubmissions } from './trace-context.js';

/**
 * A job submission: its route reads and validates the body while the rate limit is decided, and
 * awaits the verdict (`admitted`) before it records anything.
 */
const submission = (req: Request) => req.method === 'POST' && (req.path === '/jobs' || req.path === '/chat/completions');

/** Builds the API; it never listens (main.ts does), so tests drive it directly. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestId());
  const upstreams = deps.config.upstreams.map((upstream) => upstream.name);
  const metrics =
    deps.metrics ??
    createMetrics({
      service: 'api',
      queues: [deps.queue],
      scheduled: () => deps.scheduler.waitingCount(),
      watchers: () => deps.hub.watcherCount,
      upstreams: () => readUpstreamGauges(deps.redis, deps.keys, upstreams),
    });
  registerTenantMetrics(metrics.registry, () => tenantFigures(deps));
  registerFleetMetrics(metrics.registry, () => readFleetCounts(deps.redis, deps.keys));
  const logLine = httpLogging(deps.logger);
  app.use(onRequestEnd([...(deps.tracer ? [endSubmissionSpan] : []), ...(logLine ? [logLine] : []), httpMetrics(metrics)]));
  // After onRequestEnd: every span started here is ended there.
  if (deps.tracer) app.use(traceSubmissions(deps.tracer));
  // /v1 first: it is where the traffic is, and every router a request passes costs it microseconds.
  app.use('/v1', authenticate(deps.config.tenantKeys), clientRateLimit(deps.redis, deps.keys, deps.config, submission));
  const streams = streamSlots(deps.config.sseMaxPerTenant);
  app.use(jobsRouter(deps));
  app.use(sessionsRouter(deps));
  app.use(eventsRouter(deps, streams));
  app.use(openaiRouter(deps, streams));
  app.use(batchesRouter(deps));
  app.use(deliveriesRouter(deps));
  app.use(usageRouter(deps));
  app.use(healthRouter(deps));
  app.use(metricsRouter(metrics, deps.config.metricsKey), adminRouter(deps), playgroundRouter());
  const openApi = openApiDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.use(notFound);
  app.use(errorHandler(deps.logger, deps.redis));
  return app;
}
