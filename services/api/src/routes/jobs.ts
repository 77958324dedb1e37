import { Router, type Response } from 'express';
import { z } from 'zod';
import { ApiError, isId, isTerminal, parseOrThrow, type JobObject } from '@spool/contracts';
import { renderFields, type JobFields } from '@spool/jobs';
import type { AppDeps } from '../deps.js';
import { jsonBody } from '../body.js';
import { continueJob, submitJob, validateJobRequest } from '../submit-job.js';
import { submissionSpan } from '../trace-context.js';
import { admitted } from '../client-rate-limit.js';
import { idempotent } from '../idempotency.js';
import { waitWhileHeld } from '../wait-for-job.js';
import { waitingOn } from '../waiting-on.js';
import { cancelJob } from '../cancel-job.js';
import { fromStore } from '../store-errors.js';

const WaitQuery = z.object({ wait: z.coerce.number().int().min(1).max(60).optional() });
const ListQuery = z.object({
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']).optional(),
  batch_id: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().max(128).optional(),
});

/** The tenant's job, or the same 404 whether it is missing or another tenant's. */
export async function findJob(deps: AppDeps, id: string, tenant: string): Promise<JobFields> {
  const fields = isId(id, 'job') ? await deps.jobs.getForTenant(id, tenant) : null;
  if (!fields) throw ApiError.notFound('job', 'id');
  return fields;
}

/** A job's object from its fields; a queued job's says what holds it (`waiting_on`). */
async function shownJob(deps: AppDeps, tenant: string, id: string, fields: JobFields): Promise<JobObject> {
  if (fields.status === 'queued') return { ...renderFields(id, fields), waiting_on: await waitingOn(deps, tenant, id, fields.model) };
  return renderFields(id, fields);
}

/** The tenant's job object; once Redis has let the job go, its final record from the store. */
async function findJobObject(deps: AppDeps, id: string, tenant: string): Promise<JobObject> {
  if (!isId(id, 'job')) throw ApiError.notFound('job', 'id');
  const fields = await deps.jobs.getShownForTenant(id, tenant);
  if (fields) return shownJob(deps, tenant, id, fields);
  const stored = await fromStore(deps.store.getJob(id, tenant));
  if (!stored) throw ApiError.notFound('job', 'id');
  return stored;
}

/**
 * A submission's answer: the job and its `Location`. Written without `res.json`, whose ETag (a
 * hash of the body) no one can use: a POST's answer is never conditional.
 */
function sendJob(res: Response, status: number, job: JobObject): void {
  const body = JSON.stringify(job);
  res.writeHead(status, {
    location: `/v1/jobs/${job.id}`,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function jobsRouter(deps: AppDeps): Router {
  const router = Router();

  router.post('/v1/jobs', ...jsonBody('1mb'), async (req, res) => {
    const { wait } = parseOrThrow(WaitQuery, req.query);
    const validated = validateJobRequest(req.body);
    await admitted(res);
    const key = req.header('idempotency-key');
    const submitted = await idempotent(deps, res.locals.tenant, key, req.body, (id) => submitJob(deps, res.locals.tenant, req.body, { id, validated, span: submissionSpan(res) }));
    let job = submitted.job;
    if (submitted.replayed) {
      sendJob(res, 200, job);
      return;
    }
    if (wait) {
      const finished = await waitWhileHeld(deps, res, job.id, wait);
      if (finished) {
        sendJob(res, 200, finished);
        return;
      }
      const current = await deps.jobs.get(job.id);
      if (current) job = await shownJob(deps, res.locals.tenant, job.id, current);
    }
    sendJob(res, 202, job);
  });

  router.get('/v1/jobs', async (req, res) => {
    const query = parseOrThrow(ListQuery, req.query);
    const page = await deps.jobs.list(res.locals.tenant, {
      limit: query.limit,
      after: query.after,
      status: query.status,
      batchId: query.batch_id,
    });
    res.json({ object: 'list', data: page.data, has_more: page.hasMore });
  });

  // `?wait=N`: the same long poll as a submission's, on a job already submitted; 200 either way.
  router.get('/v1/jobs/:id', async (req, res) => {
    const { wait } = parseOrThrow(WaitQuery, req.query);
    const job = await findJobObject(deps, req.params.id, res.locals.tenant);
    if (!wait || isTerminal(job.status)) {
      res.json(job);
      return;
    }
    const finished = await waitWhileHeld(deps, res, job.id, wait);
    res.json(finished ?? (await findJobObject(deps, job.id, res.locals.tenant)));
  });

  router.post('/v1/jobs/:id/cancel', async (req, res) => {
    const fields = await findJob(deps, req.params.id, res.locals.tenant);
    res.json(await cancelJob(deps, req.params.id, fields));
  });

  router.post('/v1/jobs/:id/continue', async (req, res) => {
    const fields = await findJob(deps, req.params.id, res.locals.tenant);
    sendJob(res, 202, await continueJob(deps, res.locals.tenant, req.params.id, fields, submissionSpan(res)));
  });

  return router;
}
