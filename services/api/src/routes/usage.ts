import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import { adminAuth } from './admin.js';
import { knownTenants, tenantUsage } from '../tenant-usage.js';

/** `GET /v1/usage`: the caller's tenant's spend, budget and jobs this month; `GET /admin/tenants`: the same for every tenant (admin key). */
export function usageRouter(deps: AppDeps): Router {
  const router = Router();

  router.get('/v1/usage', async (_req, res) => {
    const [usage] = await tenantUsage(deps, [res.locals.tenant]);
    res.json(usage);
  });

  router.get('/admin/tenants', adminAuth(deps.config.adminKey), async (_req, res) => {
    res.json({ object: 'list', data: await tenantUsage(deps, knownTenants(deps.config)) });
  });

  return router;
}
