import { costUsd, type ModelSettings } from '@spool/config';
import type { BatchResultLine } from '@spool/contracts';
import { isBatchEnded, renderBatch, type BatchRepository, type JobEndedHandler } from '@spool/jobs';
import type { WebhookWorker } from './webhook-worker.js';

/**
 * Outbox handler for jobs of a batch: counts the request, adds its cost and keeps its result
 * line, once however often it runs; when that ended the batch, sends `batch.completed` (or
 * `batch.cancelled`). A replay after the batch ended sends again, which the delivery's fixed id
 * turns into nothing. A job's cost is the one its end recorded (a provider batch's line, at the
 * batch price), else its usage at the model's prices.
 */
export function recordBatchResult(batches: BatchRepository, webhooks: Pick<WebhookWorker, 'send'>, models: Map<string, ModelSettings> = new Map()): JobEndedHandler {
  return async (job, record) => {
    if (!job.batch_id) return;
    const line: BatchResultLine = { custom_id: record.custom_id ?? '', job_id: job.id, status: job.status, result: job.result, error: job.error };
    const cost = record.cost_usd ?? (job.result ? costUsd(models, job.model, job.result.usage) : 0);
    const batch = await batches.recordEnded(job.batch_id, job.id, JSON.stringify(line), job.status !== 'succeeded', cost);
    if (!batch || !isBatchEnded(batch.status) || !batch.webhook_url) return;
    const object = renderBatch(job.batch_id, batch);
    await webhooks.send({ ownerId: job.batch_id, tenant: record.tenant, url: batch.webhook_url, type: `batch.${object.status}`, timestamp: object.completed_at ?? 0, data: object });
  };
}
