import { Router } from 'express';
import type { AppDeps } from '../deps.js';

const PING_TIMEOUT_MS = 1000;

async function redisAnswers(deps: AppDeps): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([deps.redis.ping().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const redis = await redisAnswers(deps);
    res.status(redis ? 200 : 503).json({ status: redis ? 'ok' : 'unavailable', checks: { redis: redis ? 'ok' : 'down' } });
  });
  return router;
}
