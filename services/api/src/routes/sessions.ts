import { Router } from 'express';
import { ApiError, isId } from '@spool/contracts';
import type { Session } from '@spool/store';
import { settleSessionTurns } from '@spool/jobs';
import type { AppDeps } from '../deps.js';
import { fromStore } from '../store-errors.js';

/** The tenant's session, or the same 404 whether it is missing or another tenant's. */
async function findSession(deps: AppDeps, id: string, tenant: string): Promise<Session> {
  const session = isId(id, 'sess') ? await fromStore(deps.store.getSession(id, tenant)) : null;
  if (!session) throw ApiError.notFound('session', 'id');
  return session;
}

/** Sessions (API.md §7): a conversation whose turns the jobs that name it add, kept in the store. */
export function sessionsRouter(deps: AppDeps): Router {
  const router = Router();

  router.post('/v1/sessions', async (_req, res) => {
    const session = await fromStore(deps.store.createSession(res.locals.tenant));
    res.status(200).json({ id: session.id, object: 'session', created_at: session.created_at, messages: [] });
  });

  router.get('/v1/sessions/:id', async (req, res) => {
    const session = await findSession(deps, req.params.id, res.locals.tenant);
    // The turns of jobs that just ended are there even if the outbox has not got to them yet.
    await fromStore(settleSessionTurns(deps.store, deps.jobs, session.id));
    const history = await fromStore(deps.store.history(session.id));
    res.json({
      id: session.id,
      object: 'session',
      created_at: session.created_at,
      messages: history.map((entry) => ({ role: entry.message.role, content: entry.message.content, created_at: entry.created_at, job_id: entry.job_id })),
    });
  });

  router.delete('/v1/sessions/:id', async (req, res) => {
    const id = req.params.id;
    const deleted = isId(id, 'sess') && (await fromStore(deps.store.deleteSession(id, res.locals.tenant)));
    if (!deleted) throw ApiError.notFound('session', 'id');
    res.json({ id, object: 'session.deleted', deleted: true });
  });

  return router;
}
