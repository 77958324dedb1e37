import { SpoolError } from '@spool/contracts';

/** The root of the worker's errors. */
export class WorkerError extends SpoolError {}

/** A worker process did not finish closing in time (Redis is down, most likely). */
export class WorkerStopTimeoutError extends WorkerError {
  constructor(readonly deadlineMs: number) {
    super('stop_timed_out', `the worker did not stop within ${deadlineMs} ms`);
  }
}

/** A retryable failure another upstream takes on at once: BullMQ retries it with no backoff (the failed upstream is not called again). */
export class FailoverError extends WorkerError {
  constructor(failure: SpoolError) {
    super(failure.code, failure.message, { cause: failure });
  }
}
