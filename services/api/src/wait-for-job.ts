import type { JobObject } from '@spool/contracts';
import { eventData, type EventHub } from '@spool/stream';

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
