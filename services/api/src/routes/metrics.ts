import { Router } from 'express';
import type { Metrics } from '@spool/metrics';

/** `GET /metrics`: this process's counters, and the queue depth read from Redis now. */
export function metricsRouter(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });
  return router;
}
