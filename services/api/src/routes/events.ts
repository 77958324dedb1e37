import { Router } from 'express';
import { ApiError, isId, isTerminal } from '@spool/contracts';
import { renderFields } from '@spool/jobs';
import { coalesceWrites } from '@spool/queue';
import { formatSse, sseBytes } from '@spool/stream';
import type { AppDeps } from '../deps.js';
import type { TenantSlots } from '../tenant-slots.js';
import { EventStreams } from '../event-streams.js';

/** `Last-Event-ID` wins over `?after`; both must be whole numbers. */
function resumeAfter(header: string | undefined, query: unknown): number {
  const [value, param] = header !== undefined ? [header, 'Last-Event-ID'] : [query, 'after'];
  if (value === undefined || value === '') return 0;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value.trim())) {
    throw ApiError.invalid(`'${param}' must be a non-negative integer event id`, param);
  }
  return Number(value.trim());
}

const SSE_HEAD = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/**
 * Server-Sent Events of one job: every event after the cursor, then live ones, a `: ping`
 * comment when nothing was sent for a heartbeat interval, and the end after `done` (at once
 * when the cursor is at or past it). A stream holds little of its own (see EventStreams): live
 * events are encoded once for all their watchers.
 */
export function eventsRouter(deps: AppDeps, slots: TenantSlots): Router {
  const router = Router();
  const streams = new EventStreams(deps.heartbeatMs ?? 15_000, deps.shutdown);

  router.get('/v1/jobs/:id/events', async (req, res) => {
    coalesceWrites(deps.redis);
    const jobId = req.params.id;
    const fields = isId(jobId, 'job') ? await deps.jobs.getShownForTenant(jobId, res.locals.tenant) : null;
    if (!fields) throw ApiError.notFound('job', 'id');
    const after = resumeAfter(req.headers['last-event-id'] as string | undefined, req.query.after);
    const release = slots.take(res.locals.tenant);
    res.writeHead(200, SSE_HEAD);
    // A stream never goes on to the next handler; Express's continuation would hold the router's state (about 1 KB) for its whole life.
    req.next = undefined;
    const stream = streams.add(res, release);
    if (stream.closed) return;

    // The log is kept SPOOL_EVENTS_TTL_S after the end, the record longer: the record's job is the `done`.
    if (isTerminal(fields.status) && (await deps.log.count(jobId)) === 0) {
      // Records written before `done_event_id` existed: the id right after the cursor.
      const doneId = Number(fields.done_event_id ?? after + 1);
      if (after < doneId) stream.write(formatSse({ id: doneId, event: 'done', data: JSON.stringify(renderFields(jobId, fields)) }));
      stream.close();
      return;
    }

    let wrote = false;
    try {
      const stop = await deps.hub.watch(jobId, after, (event) => {
        // A `done` at or before the cursor is not sent again: it only says the stream is over.
        if (event.id > after) {
          wrote = true;
          stream.write(sseBytes(event));
        }
        if (event.event === 'done') stream.close();
      });
      if (stream.closed) stop();
      else stream.unwatch = stop;
      // The head leaves with the first events; a resumed stream with nothing new yet gets it now.
      if (!wrote && !stream.closed) res.flushHeaders();
    } catch (error) {
      deps.logger.warn({ err: error, job_id: jobId }, 'event stream failed');
      stream.close();
    }
  });

  return router;
}
