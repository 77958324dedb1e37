import { newId, splitJobRequest, type BatchObject } from '@spool/contracts';
import { chatJobOptions } from '@spool/queue';
import type { NewJob } from '@spool/jobs';
import type { AppDeps } from './deps.js';
import type { BatchItem, ParsedBatch } from './parse-batch.js';
import { acceptWebhookUrl } from './accept-webhook-url.js';

/** Jobs recorded and enqueued per round trip: one pipeline of creates, one `addBulk`. */
const CHUNK = 1000;
const CHUNKS_IN_FLIGHT = 3;

/**
 * Records a validated batch and enqueues its requests as jobs carrying `batch_id`. The batch
 * record exists before any job can run, so every ending is counted.
 */
export async function submitBatch(deps: AppDeps, tenant: string, batch: ParsedBatch): Promise<BatchObject> {
  const webhookUrl = batch.webhook ? await acceptWebhookUrl(deps, batch.webhook.url) : null;
  const batchId = newId('batch');
  await deps.jobs.checkQuota(tenant, batch.items.map((item) => splitJobRequest(item.request, deps.config.defaultModel).upstream));
  const created = await deps.batches.create({ id: batchId, tenant, total: batch.items.length, metadata: batch.metadata, webhookUrl });
  const toJob = ({ customId, request }: BatchItem): NewJob => {
    const { upstream, spool } = splitJobRequest(request, deps.config.defaultModel);
    return {
      id: newId('job'),
      tenant,
      request: upstream,
      priority: spool.priority,
      metadata: spool.metadata,
      onInterrupt: spool.on_interrupt,
      sessionId: spool.session_id,
      batchId,
      customId,
    };
  };
  // A chunk's jobs are recorded before they are enqueued; chunks overlap, so Redis is never idle.
  let next = 0;
  let failed = false;
  const enqueueChunks = async () => {
    while (!failed && next < batch.items.length) {
      const jobs = batch.items.slice(next, (next += CHUNK)).map(toJob);
      try {
        await deps.jobs.createMany(jobs);
        await deps.batches.addJobs(
          batchId,
          jobs.map((job) => job.id),
        );
        await deps.queue.addBulk(
          jobs.map((job) => ({ name: 'chat', data: { jobId: job.id }, opts: chatJobOptions(job.id, { priority: job.priority, attempts: deps.config.maxAttempts }) })),
        );
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: CHUNKS_IN_FLIGHT }, enqueueChunks));
  return created;
}
