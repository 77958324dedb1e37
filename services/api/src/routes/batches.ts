import { Router, type Response } from 'express';
import { ApiError, isId } from '@spool/contracts';
import { renderBatch, type BatchFields } from '@spool/jobs';
import type { AppDeps } from '../deps.js';
import { readBatch } from '../batch-body.js';
import { uploadSlots } from '../tenant-slots.js';
import { submitBatch } from '../submit-batch.js';
import { cancelBatch } from '../cancel-batch.js';
import { completionWindowQuery } from '../batch-mode.js';
import { refuseWhenBudgetSpent } from '../budget-check.js';
import { submissionSpan } from '../trace-context.js';

const RESULTS_PAGE = 1000;

/** The tenant's batch, or the same 404 whether it is missing or another tenant's. */
async function findBatch(deps: AppDeps, id: string, tenant: string): Promise<BatchFields> {
  const fields = isId(id, 'batch') ? await deps.batches.getForTenant(id, tenant) : null;
  if (!fields) throw ApiError.notFound('batch', 'id');
  return fields;
}

function write(res: Response, text: string): Promise<void> {
  return res.write(text) ? Promise.resolve() : new Promise((resolve) => res.once('drain', resolve));
}

export function batchesRouter(deps: AppDeps): Router {
  const router = Router();

  router.post('/v1/batches', uploadSlots(deps.config.batchUploadsPerTenant).perRequest(), async (req, res) => {
    // Before the upload is read: a spent budget refuses the batch whole, however large, and a bad
    // completion_window fails at once, not after a 50 MB upload.
    await refuseWhenBudgetSpent(deps, res.locals.tenant);
    const queried = completionWindowQuery(req.query.completion_window);
    const parsed = await readBatch(req);
    const batch = await submitBatch(deps, res.locals.tenant, { ...parsed, completionWindow: parsed.completionWindow ?? queried }, submissionSpan(res));
    res.status(202).location(`/v1/batches/${batch.id}`).json(batch);
  });

  router.get('/v1/batches/:id', async (req, res) => {
    res.json(renderBatch(req.params.id, await findBatch(deps, req.params.id, res.locals.tenant)));
  });

  // One JSONL line per ended request, in the order they ended; readable while the batch runs.
  router.get('/v1/batches/:id/results', async (req, res) => {
    await findBatch(deps, req.params.id, res.locals.tenant);
    res.status(200).type('application/jsonl; charset=utf-8');
    for (let start = 0; !res.destroyed; start += RESULTS_PAGE) {
      const lines = await deps.batches.results(req.params.id, start, RESULTS_PAGE);
      if (lines.length) await write(res, `${lines.join('\n')}\n`);
      if (lines.length < RESULTS_PAGE) break;
    }
    res.end();
  });

  router.post('/v1/batches/:id/cancel', async (req, res) => {
    await findBatch(deps, req.params.id, res.locals.tenant);
    res.json(await cancelBatch(deps, req.params.id));
  });

  return router;
}
