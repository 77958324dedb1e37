import { Router } from 'express';
import { ApiError, isId } from '@spool/contracts';
import { SessionTurns } from '@spool/jobs';
import type { AppDeps } from '../deps.js';
import { fromStore } from '../store-errors.js';

/** Sessions (API.md §7): a conversation whose turns the jobs that name it add, kept in the store. */
export function sessionsRouter(deps: AppDeps): Router {
  const router = Router();
  const turns = new SessionTurns(deps.store, deps.jobs);

  router.post('/v1/sessions', async (_req, res) => {
    const session = await fromStore(deps.store.createSession(res.locals.tenant));
    res.status(200).json({ id: session.id, object: 'session', created_at: session.created_at, messages: [] });
  });

  router.get('/v1/sessions/:id', async (req, res) => {
    const id = req.params.id;
    // The turns of jobs that just ended are there even if the outbox has not got to them yet.
    const session = isId(id, 'sess') ? await fromStore(turns.settle(res.locals.tenant, id)) : null;
    if (!session) throw ApiError.notFound('session', 'id');
    res.json({
      id: session.id,
      object: 'session',
      created_at: session.created_at,
      messages: session.messages.map((entry) => ({ role: entry.message.role, content: entry.message.content, created_at: entry.created_at, job_id: entry.job_id })),
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
