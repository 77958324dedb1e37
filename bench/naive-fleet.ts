import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type OpenAI from 'openai';
import { errorText } from './stream-runner.js';

export interface NaiveFleetSettings {
  jobs: number;
  workers: number;
  concurrency: number;
  attempts: number;
  backoffMs: number;
  prompt: string;
}

export interface NaiveOutcome {
  succeeded: number;
  failed: number;
  elapsedMs: number;
  firstError?: string;
}

/**
 * The naive baselines' fleet, what a first version looks like: BullMQ Workers streaming each job
 * through the SDK with its default retries and BullMQ's backoff, nothing shared between them.
 * `pickClient(worker)` gives a worker its client chooser (one client, or the next key each call).
 * Ends when every job ended or after `giveUpAfterMs`; `onProgress` is told every 10 s.
 */
export async function runNaiveFleet(
  settings: NaiveFleetSettings,
  redisUrl: string,
  prefix: string,
  options: { pickClient: (worker: number) => () => OpenAI; giveUpAfterMs: number; onProgress?: (ended: number, elapsedMs: number) => void },
): Promise<NaiveOutcome> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('chat', { connection, prefix });
  const workers: Worker[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    let succeeded = 0;
    let failed = 0;
    let firstError: string | undefined;
    let settle: () => void = () => undefined;
    const allEnded = new Promise<void>((resolve) => (settle = resolve));
    const check = () => {
      if (succeeded + failed >= settings.jobs) settle();
    };
    for (let index = 0; index < settings.workers; index++) {
      const client = options.pickClient(index);
      const worker = new Worker<{ content: string }>(
        'chat',
        async (job) => {
          const stream = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: job.data.content }], stream: true });
          let finishReason: string | null = null;
          for await (const chunk of stream) finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
          if (!finishReason) throw new Error('the stream ended without a finish_reason');
        },
        { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix, concurrency: settings.concurrency },
      );
      worker.on('completed', () => {
        succeeded++;
        check();
      });
      worker.on('failed', (job, error) => {
        if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
        failed++;
        firstError ??= errorText(error);
        check();
      });
      worker.on('error', (error) => (firstError ??= errorText(error)));
      workers.push(worker);
    }
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    const started = performance.now();
    const jobs = Array.from({ length: settings.jobs }, (_, index) => ({
      name: 'chat',
      data: { content: `${settings.prompt} #${index}` },
      opts: { attempts: settings.attempts, backoff: { type: 'exponential', delay: settings.backoffMs }, removeOnComplete: true },
    }));
    for (let index = 0; index < jobs.length; index += 500) await queue.addBulk(jobs.slice(index, index + 500));
    const onProgress = options.onProgress;
    if (onProgress) timer = setInterval(() => onProgress(succeeded + failed, performance.now() - started), 10_000);
    await Promise.race([allEnded, sleep(options.giveUpAfterMs)]);
    return { succeeded, failed, elapsedMs: performance.now() - started, firstError };
  } finally {
    clearInterval(timer);
    await Promise.all(workers.map((worker) => worker.close(true)));
    await queue.close();
    connection.disconnect();
  }
}
