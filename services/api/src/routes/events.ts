import { Router } from 'express';
import { ApiError, isTerminal } from '@spool/contracts';
import { renderFields } from '@spool/jobs';
import { coalesceWrites } from '@spool/queue';
import { formatSse } from '@spool/stream';
import type { AppDeps } from '../deps.js';
import type { TenantSlots } from '../tenant-slots.js';
import { findJob } from './jobs.js';

/** `Last-Event-ID` wins over `?after`; both must be whole numbers. */
function resumeAfter(header: string | undefined, query: unknown): number {
  const [value, param] = header !== undefined ? [header, 'Last-Event-ID'] : [query, 'after'];
  if (value === undefined || value === '') return 0;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value.trim())) {
    throw ApiError.invalid(`'${param}' must be a non-negative integer event id`, param);
  }
  return Number(value.trim());
}

/**
 * Server-Sent Events of one job: every event after the cursor, then live ones, a `: ping`
 * comment when nothing was sent for a heartbeat interval, and the end after `done` (at once
 * when the cursor is at or past it).
 */
export function eventsRouter(deps: AppDeps, slots: TenantSlots): Router {
  const router = Router();
  const heartbeatMs = deps.heartbeatMs ?? 15_000;

  router.get('/v1/jobs/:id/events', async (req, res) => {
    coalesceWrites(deps.redis);
    const jobId = req.params.id;
    const fields = await findJob(deps, jobId, res.locals.tenant);
    const after = resumeAfter(req.headers['last-event-id'] as string | undefined, req.query.after);
    const release = slots.take(res.locals.tenant);
    res.on('close', release);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let closed = false;
    let unwatch: (() => void) | undefined;
    const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unwatch?.();
      deps.shutdown?.removeEventListener('abort', close);
      res.end();
    };
    res.on('close', close);
    deps.shutdown?.addEventListener('abort', close);
    if (deps.shutdown?.aborted) close();

    // The log is kept SPOOL_EVENTS_TTL_S after the end, the record longer: the record's job is the `done`.
    if (isTerminal(fields.status) && (await deps.log.count(jobId)) === 0) {
      // Records written before `done_event_id` existed: the id right after the cursor.
      const doneId = Number(fields.done_event_id ?? after + 1);
      if (after < doneId) res.write(formatSse({ id: doneId, event: 'done', data: JSON.stringify(renderFields(jobId, fields)) }));
      close();
      return;
    }

    let wrote = false;
    try {
      const stop = await deps.hub.watch(jobId, after, (event) => {
        if (closed) return;
        // A `done` at or before the cursor is not sent again: it only says the stream is over.
        if (event.id > after) {
          wrote = true;
          res.write(formatSse(event));
          heartbeat.refresh();
        }
        if (event.event === 'done') close();
      });
      if (closed) stop();
      else unwatch = stop;
      // The head leaves with the first events; a resumed stream with nothing new yet gets it now.
      if (!wrote && !closed) res.flushHeaders();
    } catch (error) {
      deps.logger.warn({ err: error, job_id: jobId }, 'event stream failed');
      close();
    }
  });

  return router;
}
