import type { Response } from 'express';
import type { JobObject } from '@spool/contracts';
import { eventData, type EventHub } from '@spool/stream';
import type { AppDeps } from './deps.js';

/** The finished job once its `done` event comes, or null after `timeoutMs` or on `signal`. */
export function waitForJob(hub: EventHub, jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<JobObject | null> {
  return new Promise<JobObject | null>((resolve, reject) => {
    let settled = false;
    let unwatch: (() => void) | undefined;
    const settle = (job: JobObject | null, error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unwatch?.();
      if (error) reject(error);
      else resolve(job);
    };
    const timer = setTimeout(() => settle(null), timeoutMs);
    signal?.addEventListener('abort', () => settle(null), { once: true });
    if (signal?.aborted) settle(null);
    hub
      .watch(jobId, 0, (event) => {
        const done = eventData(event, 'done');
        if (done) settle(done);
      })
      .then(
        (stop) => {
          unwatch = stop;
          if (settled) stop();
        },
        (error) => settle(null, error),
      );
  });
}

/**
 * `?wait`'s long poll for the request `res` answers: the finished job if it ends within `seconds`,
 * else null, also at once when the client leaves or the process begins to stop (rather than hold
 * the request past its drain).
 */
export function waitWhileHeld(deps: Pick<AppDeps, 'hub' | 'shutdown'>, res: Response, jobId: string, seconds: number): Promise<JobObject | null> {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  const signal = deps.shutdown ? AbortSignal.any([controller.signal, deps.shutdown]) : controller.signal;
  return waitForJob(deps.hub, jobId, seconds * 1000, signal);
}
