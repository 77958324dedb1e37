import { Worker, type Job } from 'bullmq';

/**
 * BullMQ's Worker, except that a job it fetches starts at once. BullMQ's main loop fetches jobs
 * one round trip at a time for as long as the queue has them, and starts them only then: of N
 * jobs released together (the door's callers arriving at once, a batch), the second starts
 * after N round trips to Redis. Here the fetch that follows one that found a job answers "none"
 * without asking Redis, so the loop starts the job it has, then fetches the next while it runs.
 *
 * Only a fetch that would not block is skipped (BullMQ's `drained` is false): a blocking fetch
 * follows a wake-up whose job must be taken, or the worker would sleep until the next one.
 */
export class PromptWorker<Data> extends Worker<Data> {
  private justFetched = false;

  protected override async moveToActive(token: string, name?: string): Promise<Job<Data>> {
    const skip = this.justFetched && !(this as unknown as { drained: boolean }).drained;
    this.justFetched = false;
    if (skip) return undefined as unknown as Job<Data>;
    const job = await super.moveToActive(token, name);
    this.justFetched = job !== undefined;
    return job;
  }
}
