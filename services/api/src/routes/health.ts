import { Router } from 'express';
import { withTimeout } from '@spool/contracts';
import type { AppDeps } from '../deps.js';

const PING_TIMEOUT_MS = 1000;

function answers(probe: () => Promise<unknown>): Promise<boolean> {
  return withTimeout(probe(), PING_TIMEOUT_MS).then(() => true, () => false);
}

export function healthRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [redis, store] = await Promise.all([answers(() => deps.redis.ping()), answers(() => deps.store.ping())]);
    const ready = redis && store;
    const checks = { redis: redis ? 'ok' : 'down', store: store ? 'ok' : 'down' };
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', checks });
  });
  return router;
}
