import { Router } from 'express';
import { ApiError } from '@spool/contracts';
import { metricsAuthorized, METRICS_UNAUTHORIZED_MESSAGE, type Metrics } from '@spool/metrics';

/** `GET /metrics`: this process's counters, and the queue depth read from Redis now; behind SPOOL_METRICS_KEY when set. */
export function metricsRouter(metrics: Metrics, key?: string): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (!metricsAuthorized(req.headers.authorization, key)) {
      throw new ApiError(401, 'authentication_error', 'invalid_api_key', METRICS_UNAUTHORIZED_MESSAGE, null, { 'www-authenticate': 'Bearer' });
    }
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });
  return router;
}
