import { Worker, type Job } from 'bullmq';

/** Jobs one round trip fetches at most while a burst lasts: the one asked for and three more. */
const FETCH_AT_ONCE = 4;

/** BullMQ's Worker's own state that PromptWorker reads and sets. */
interface WorkerInternals {
  /** the last fetch found the queue empty: the next one blocks until a job is added */
  drained: boolean;
  /** jobs being fetched or processed */
  mainLoopQueue?: { numTotal(): number } | null;
}

/**
 * BullMQ's Worker, except that a job it fetches starts at once, and a burst is fetched several
 * jobs a round trip. BullMQ's main loop fetches jobs one round trip at a time for as long as
 * the queue has them, and starts them only then: of N jobs released together (the door's callers
 * arriving at once, a batch), the second starts after N round trips to Redis. Here the fetch that
 * follows one that found a job answers "none" without asking Redis, so the loop starts the job
 * it has, then fetches the next while it runs. Only a fetch that would not block is skipped
 * (BullMQ's `drained` is false): a blocking fetch follows a wake-up whose job must be taken, or
 * the worker would sleep until the next one.
 *
 * Two fetches in a row that found a job mean a burst: the next fetch asks for up to four jobs in
 * one write, as many as the worker has free slots, and hands the extra ones out before asking
 * Redis again. Each holds its own lock token; the ones not started when the worker closes go back
 * to the head of the queue.
 */
export class PromptWorker<Data> extends Worker<Data> {
  private justFetched = false;
  /** fetches from Redis in a row that found a job */
  private streak = 0;
  /**
   * Jobs fetched beside the one asked for, handed out before Redis is asked again. Their locks are
   * not extended until they start, so the main loop must keep running while any is held: only
   * `close` hands them back, and Spool never pauses a worker nor sets BullMQ's rate limiter.
   */
  private readonly fetchedAhead: Job<Data>[] = [];
  private stopping = false;

  /** each job's run in progress, by job id (see `processJob`) */
  private readonly runs = new Map<string, Promise<unknown>>();

  private get internals(): WorkerInternals {
    return this as unknown as WorkerInternals;
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job<Data>> {
    const skip = this.justFetched && !this.internals.drained;
    this.justFetched = false;
    if (skip) return undefined as unknown as Job<Data>;
    const job = this.fetchedAhead.shift() ?? (await this.fetch(token, name));
    this.justFetched = job !== undefined;
    return job as Job<Data>;
  }

  /**
   * BullMQ tracks the locks it extends by job id, and a run untracks its job's id when it returns.
   * A job handed back to run at once (`moveToDelayed(now)`, a 429 that fails over) may be fetched
   * again before the run that handed it back has returned: that return then untracked the new
   * run's lock, which expired mid-run, and the job ran again as stalled. A job's next run starts
   * once its last one has returned (a moment: the hand-back was its last step).
   */
  override async processJob(job: Job<Data>, token: string, fetchNextCallback?: () => boolean): Promise<void | Job<Data>> {
    const id = job.id!;
    const earlier = this.runs.get(id);
    if (earlier) await earlier.catch(() => undefined);
    const run = super.processJob(job, token, fetchNextCallback);
    this.runs.set(id, run);
    try {
      return await run;
    } finally {
      if (this.runs.get(id) === run) this.runs.delete(id);
    }
  }

  override async close(force = false): Promise<void> {
    this.stopping = true;
    // BullMQ's close stops the loop's fetching at once; its connection (given, not its own) stays open for the hand-back.
    const closing = super.close(force);
    await Promise.all([closing, this.handBack(this.fetchedAhead.splice(0))]);
  }

  /** The next job from Redis, and in a burst the next few beside it, in one round trip. */
  private async fetch(token: string, name?: string): Promise<Job<Data> | undefined> {
    // The loop's jobs being fetched or run, this fetch among them or not yet: never more than the free slots.
    const free = this.concurrency - (this.internals.mainLoopQueue?.numTotal() ?? 0);
    const extra = this.streak >= 2 && !this.stopping ? Math.min(FETCH_AT_ONCE, free) - 1 : 0;
    const fetching = [super.moveToActive(token, name)];
    for (let index = 1; index <= extra; index++) fetching.push(super.moveToActive(`${token}:${index}`, name));
    const found = (await Promise.all(fetching)).filter((job): job is Job<Data> => job !== undefined);
    this.streak = found.length ? this.streak + 1 : 0;
    const [job, ...ahead] = found;
    if (this.stopping) await this.handBack(ahead);
    else this.fetchedAhead.push(...ahead);
    // An extra fetch that found nothing marked the queue drained: jobs held here must still be taken without blocking.
    if (this.fetchedAhead.length) this.internals.drained = false;
    return job;
  }

  /**
   * Jobs fetched ahead and never started go back to the head of the queue, their locks released,
   * the first last (it is then next). Their start count, raised by the fetch, is taken back: a
   * job counts as started only once run (its head start and its queue wait span depend on it).
   */
  private async handBack(jobs: Job<Data>[]): Promise<void> {
    const client = await this.backend.client;
    await Promise.all(
      jobs.reverse().map(async (job) => {
        try {
          // Set while the job is still ours (active, locked): no other worker can have started it.
          await client.hset(this.toKey(job.id!), { ats: job.attemptsStarted - 1 });
          await job.moveToWait(job.token);
        } catch (error) {
          this.emit('error', error as Error);
        }
      }),
    );
  }
}
