import type { BatchResultLine } from '@spool/contracts';
import { isBatchEnded, renderBatch, type BatchRepository, type JobEndedHandler } from '@spool/jobs';
import type { WebhookWorker } from './webhook-worker.js';

/**
 * Outbox handler for jobs of a batch: counts the request, adds its cost and keeps its result
 * line, once however often it runs; when that ended the batch, sends `batch.completed` (or
 * `batch.cancelled`). A replay after the batch ended sends again, which the delivery's fixed id
 * turns into nothing. A job's cost is its `cost_usd`: its calls' (live), or its line's at the
 * batch price (a provider batch).
 */
export function recordBatchResult(batches: BatchRepository, webhooks: Pick<WebhookWorker, 'send'>): JobEndedHandler {
  return async (job, record) => {
    if (!job.batch_id) return;
    const line: BatchResultLine = { custom_id: record.custom_id ?? '', job_id: job.id, status: job.status, result: job.result, error: job.error };
    const batch = await batches.recordEnded(job.batch_id, job.id, JSON.stringify(line), job.status !== 'succeeded', job.cost_usd);
    if (!batch || !isBatchEnded(batch.status) || !batch.webhook_url) return;
    const object = renderBatch(job.batch_id, batch);
    await webhooks.send({ ownerId: job.batch_id, tenant: record.tenant, url: batch.webhook_url, type: `batch.${object.status}`, timestamp: object.completed_at ?? 0, data: object });
  };
}
