import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DelayedError, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../../../test/support/stack.js';
import { PromptWorker } from './prompt-worker.js';

/**
 * For each job of a burst released to a waiting worker, the round trips of Redis fetches
 * (moveToActive) it made before the job started: fetches sent while none is in flight open one.
 */
async function fetchesBeforeEachStart(make: typeof Worker, queue: Queue, connection: Redis, count: number): Promise<number[]> {
  const seen: number[] = [];
  let fetches = 0;
  let inFlight = 0;
  let started!: () => void;
  const all = new Promise<void>((resolve) => (started = resolve));
  const worker = new make(queue.name, async () => {
    seen.push(fetches);
    if (seen.length === count) started();
  }, { connection, prefix: queue.opts.prefix, concurrency: 10, autorun: false });
  const backend = (worker as unknown as { backend: { moveToActive: (...args: unknown[]) => Promise<unknown> } }).backend;
  const fetch = backend.moveToActive.bind(backend);
  backend.moveToActive = (...args) => {
    if (inFlight++ === 0) fetches++;
    return fetch(...args).finally(() => inFlight--);
  };
  void worker.run();
  await worker.waitUntilReady();
  // queued while the worker waits for jobs: it wakes to a burst
  await expect.poll(() => fetches).toBeGreaterThan(0);
  const before = fetches;
  await queue.addBulk(Array.from({ length: count }, (_, index) => ({ name: 'job', data: {}, opts: { jobId: `${randomUUID()}-${index}` } })));
  await all;
  await worker.close();
  return seen.map((value) => value - before);
}

describe('PromptWorker', () => {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues: Queue[] = [];
  const newQueue = () => {
    const queue = new Queue(`prompt-${randomUUID().slice(0, 8)}`, { connection, prefix: `test-${randomUUID().slice(0, 8)}` });
    queues.push(queue);
    return queue;
  };
  afterAll(async () => {
    for (const queue of queues) await queue.obliterate({ force: true }).catch(() => undefined);
    await Promise.all(queues.map((queue) => queue.close()));
    await connection.quit();
  });

  it("keeps extending the lock of a job handed back to run at once and picked up again before the attempt that handed it back has returned", async () => {
    // BullMQ tracks locks by job id: the first attempt's end untracked the second's lock, which
    // then expired, and the job was run a third time as stalled (a second upstream call mid-stream).
    const queue = newQueue();
    const runs: number[] = [];
    let secondStarted!: () => void;
    const second = new Promise<void>((resolve) => (secondStarted = resolve));
    const worker = new PromptWorker(
      queue.name,
      async (job, token) => {
        runs.push(Date.now());
        if (runs.length === 1) {
          await job.moveToDelayed(Date.now(), token);
          // The job is back in the queue at once: the second attempt may start before this one returns (BullMQ's own Worker lets it).
          await Promise.race([second, new Promise((resolve) => setTimeout(resolve, 300))]);
          throw new DelayedError();
        }
        secondStarted();
        // Three lock durations: only an extended lock survives them.
        await new Promise((resolve) => setTimeout(resolve, 1500));
      },
      { connection, prefix: queue.opts.prefix, concurrency: 5, lockDuration: 500, stalledInterval: 200, autorun: false },
    );
    const ended = new Promise<string>((resolve) => {
      worker.on('completed', () => resolve('completed'));
      worker.on('failed', (_job, error) => resolve(`failed: ${error.message}`));
    });
    // (The first run's own lock, gone with the hand-back, fails to renew while it lingers here: an 'error' event, as in BullMQ's Worker.)
    worker.on('error', () => undefined);
    void worker.run();
    await queue.add('job', {}, { jobId: randomUUID() });
    expect(await ended).toBe('completed');
    await worker.close();
    // Run twice, not a third time as stalled, and completed under the second run's own (extended) lock.
    expect(runs).toHaveLength(2);
  });

  it('starts each job of a burst after its own fetch, where BullMQ fetches the whole burst first', async () => {
    // BullMQ's own Worker starts the second of 5 jobs only after fetching them all
    const plain = await fetchesBeforeEachStart(Worker, newQueue(), connection, 5);
    expect(plain.some((fetches, index) => fetches > index + 1)).toBe(true);
    // job k starts once k + 1 fetches have been made, at most
    const prompt = await fetchesBeforeEachStart(PromptWorker, newQueue(), connection, 5);
    expect(prompt.every((fetches, index) => fetches <= index + 1)).toBe(true);
  });

  it('fetches a burst up to four jobs a round trip once two fetches in a row found one', async () => {
    const starts = await fetchesBeforeEachStart(PromptWorker, newQueue(), connection, 10);
    // one, one, then four at a time: the tenth starts after four round trips, not ten
    expect(starts[9]).toBeLessThanOrEqual(5);
    expect(starts.every((fetches, index) => fetches <= index + 1)).toBe(true);
  });

  it('puts jobs fetched ahead and never started back at the head of the queue when it closes', async () => {
    const queue = newQueue();
    const ids = Array.from({ length: 10 }, (_, index) => `job-${index}`);
    const started: string[] = [];
    let closing: Promise<void> | undefined;
    const worker = new PromptWorker(queue.name, async (job) => {
      started.push(job.id!);
      // the third job closes the worker: jobs it fetched beside that one never start here
      if (started.length === 3) closing = worker.close();
    }, { connection, prefix: queue.opts.prefix, concurrency: 10, autorun: false });
    void worker.run();
    await worker.waitUntilReady();
    await queue.addBulk(ids.map((id) => ({ name: 'job', data: {}, opts: { jobId: id } })));
    await expect.poll(() => started.length).toBeGreaterThanOrEqual(3);
    await closing;
    expect(await queue.getActiveCount()).toBe(0);

    // the rest runs once each, in the order it was added (a fetch in flight at the close may have taken a later one)
    const after: string[] = [];
    // each handed back as never started
    const waiting = await queue.getWaiting();
    expect(waiting.map((job) => job.attemptsStarted)).toEqual(waiting.map(() => 0));
    const next = new Worker(queue.name, async (job) => void after.push(job.id!), { connection, prefix: queue.opts.prefix, concurrency: 1 });
    await expect.poll(() => started.length + after.length).toBe(10);
    await next.close();
    expect(after).toEqual(ids.filter((id) => !started.includes(id)));
    expect(new Set([...started, ...after]).size).toBe(10);
  });
});
