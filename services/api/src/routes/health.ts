import { Router } from 'express';
import type { AppDeps } from '../deps.js';

const PING_TIMEOUT_MS = 1000;

async function answers(probe: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([probe().then(() => true, () => false), timeout]);
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
    const [redis, store] = await Promise.all([answers(() => deps.redis.ping()), answers(() => deps.store.ping())]);
    const ready = redis && store;
    const checks = { redis: redis ? 'ok' : 'down', store: store ? 'ok' : 'down' };
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', checks });
  });
  return router;
}
