import { sessionTurn, type JobEndedHandler } from '@spool/jobs';
import type { Store } from '@spool/store';

/**
 * An ended job of a session settles its turn: if it succeeded, its own messages (as submitted,
 * without the history put before them) and the reply are appended in one step, once however
 * often this runs; otherwise the turn is dropped from the session's pending ones.
 */
export function appendSessionTurn(store: Store): JobEndedHandler {
  return async (job, fields) => {
    if (!fields.session_id) return;
    if (!(await store.getSession(fields.session_id, fields.tenant))) return; // deleted, or not this tenant's
    await store.appendTurn(fields.session_id, job.id, sessionTurn(job, fields));
  };
}
