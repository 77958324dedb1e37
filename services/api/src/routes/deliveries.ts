import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import { findJob } from './jobs.js';

/** `GET /v1/jobs/{id}/deliveries`: the job's webhook delivery attempts, oldest first. */
export function deliveriesRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/v1/jobs/:id/deliveries', async (req, res) => {
    await findJob(deps, req.params.id, res.locals.tenant);
    res.json({ object: 'list', data: await deps.deliveries.list(req.params.id) });
  });
  return router;
}
