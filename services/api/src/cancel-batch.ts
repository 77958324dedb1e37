import { ApiError, isTerminal, type BatchObject } from '@spool/contracts';
import { providerBatchJobId } from '@spool/queue';
import { renderBatch } from '@spool/jobs';
import type { AppDeps } from './deps.js';
import { cancelJob } from './cancel-job.js';

const PAGE = 1000;
/** jobs cancelled at once */
const CONCURRENCY = 32;

async function cancelIfRunning(deps: AppDeps, jobId: string): Promise<void> {
  const fields = await deps.jobs.get(jobId);
  if (!fields || isTerminal(fields.status)) return;
  try {
    await cancelJob(deps, jobId, fields);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) throw error; // it ended meanwhile
  }
}

/**
 * A provider batch's poller, waiting for its next poll, runs now: it sees the batch cancelling and
 * cancels the upstream batch. One that is running sees it at its next step.
 */
async function wakePoller(deps: AppDeps, batchId: string): Promise<void> {
  const entry = await deps.providerBatches.getJob(providerBatchJobId(batchId));
  if (entry && (await entry.isDelayed())) await entry.promote().catch(() => undefined); // it started meanwhile
}

/**
 * Moves the batch to `cancelling` and cancels each request that has not ended, as
 * `POST /v1/jobs/{id}/cancel` would; the batch becomes `cancelled` once the last one is counted.
 * A provider batch's upstream batch is cancelled by its poller, woken for it.
 * 409 if the batch had already ended. Cancelling again finishes what a first call left.
 */
export async function cancelBatch(deps: AppDeps, batchId: string): Promise<BatchObject> {
  const status = await deps.batches.requestCancel(batchId);
  if (status === null) throw ApiError.notFound('batch', 'id');
  if (status === 'completed' || status === 'cancelled') throw ApiError.conflict('batch_ended', 'The batch has already ended');
  await wakePoller(deps, batchId);
  for (let start = 0; ; start += PAGE) {
    const ids = await deps.batches.jobIds(batchId, start, PAGE);
    for (let index = 0; index < ids.length; index += CONCURRENCY) {
      await Promise.all(ids.slice(index, index + CONCURRENCY).map((jobId) => cancelIfRunning(deps, jobId)));
    }
    if (ids.length < PAGE) break;
  }
  const fields = await deps.batches.get(batchId);
  if (!fields) throw ApiError.notFound('batch', 'id');
  return renderBatch(batchId, fields);
}
