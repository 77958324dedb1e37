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

/** The tenant's budget cannot pay for an attempt's worst case: the job fails without calling upstream. */
export class BudgetExceededError extends WorkerError {
  constructor() {
    super('budget_exceeded', "The tenant's budget for this month cannot pay for this request");
  }
}

/** The budget could not be checked (Redis or the store is out of reach): the call never went upstream, and the job waits. */
export class BudgetUnavailableError extends WorkerError {
  constructor(cause: unknown) {
    super('budget_unavailable', 'the budget could not be checked', { cause });
  }
}
