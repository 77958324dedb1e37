import { ApiError, newId, type BatchObject } from '@spool/contracts';
import { providerBatchJobId, providerBatchJobOptions } from '@spool/queue';
import type { NewJob } from '@spool/jobs';
import type { HandedSpan } from '@spool/tracing';
import type { AppDeps } from './deps.js';
import type { ParsedBatch } from './parse-batch.js';
import { acceptWebhookUrl } from './accept-webhook-url.js';
import { routeBatch } from './batch-mode.js';
import { newJob } from './submit-job.js';
import { spanLogFields } from './trace-context.js';

/** Jobs recorded or put in line per round trip: one pipeline of creates, one scheduler step. */
const CHUNK = 1000;
const CHUNKS_IN_FLIGHT = 3;

/** Runs `work` a chunk of jobs at a time, a few chunks in flight; every chunk started has settled before the first error is thrown. */
async function inChunks(jobs: NewJob[], work: (chunk: NewJob[]) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure = null as { error: unknown } | null;
  const lane = async () => {
    while (!failure && next < jobs.length) {
      const chunk = jobs.slice(next, (next += CHUNK));
      try {
        await work(chunk);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: CHUNKS_IN_FLIGHT }, lane));
  if (failure) throw failure.error;
}

/** Redis refusing writes at `maxmemory` (`noeviction`): ours to fix, and gone once memory is freed. */
function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && /\bOOM\b/.test(error.message);
}

/** Tries of a rollback Redis refused (it is down): the delay doubles up to a minute, about an hour in all. */
const ROLLBACK_TRIES = 64;

/**
 * Undoes a batch whose writes failed part-way: records first, since a job without its record
 * never runs (its worker finds nothing to start), then the batch, then the queue entries.
 * Only deletions, which Redis allows even when it is out of memory. When Redis refuses (it is
 * down), it is tried again in the background, so no half batch holds its tenant's quota for good.
 */
async function rollBack(deps: AppDeps, batchId: string, jobs: NewJob[], span: HandedSpan | undefined, tries = 1): Promise<void> {
  const logged = { batch_id: batchId, tries, ...spanLogFields(span) };
  try {
    await inChunks(jobs, (chunk) => deps.jobs.removeMany(chunk));
    await deps.batches.remove(batchId);
    await inChunks(jobs, (chunk) => Promise.all(chunk.map((job) => deps.queue.remove(job.id))));
    await deps.providerBatches.remove(providerBatchJobId(batchId));
    if (tries > 1) deps.logger.info(logged, 'a failed batch submission was rolled back');
  } catch (error) {
    const again = tries < ROLLBACK_TRIES;
    deps.logger.error({ err: error, ...logged }, again ? 'a failed batch submission could not be rolled back yet; trying again' : 'a failed batch submission could not be rolled back');
    if (again) setTimeout(() => void rollBack(deps, batchId, jobs, span, tries + 1), Math.min(1000 * 2 ** (tries - 1), 60_000)).unref();
  }
}

/**
 * Records a validated batch and enqueues its requests as jobs carrying `batch_id`: the batch and
 * every job record first, then the queue entries, so no job runs before its batch is complete.
 * A provider-mode batch (`completion_window`, API.md §14) gets one entry on the provider-batch
 * queue instead; its jobs are recorded the same, and wait for the upstream's Batch API.
 * If a write fails (Redis down or out of memory) everything written is undone, and the client
 * gets a 503 to retry: a batch is submitted whole or not at all.
 */
export async function submitBatch(deps: AppDeps, tenant: string, batch: ParsedBatch, span?: HandedSpan): Promise<BatchObject> {
  const webhookUrl = batch.webhook ? await acceptWebhookUrl(deps, batch.webhook.url) : null;
  const batchId = newId('batch');
  const jobs = batch.items.map(({ customId, request }) => newJob(tenant, request, deps.config.defaultModel, span, { batchId, customId }));
  await deps.jobs.checkQuota(tenant, jobs.map((job) => job.request));
  const routing = await routeBatch(deps, jobs, batch.completionWindow);
  try {
    const created = await deps.batches.create({
      id: batchId,
      tenant,
      total: jobs.length,
      metadata: batch.metadata,
      webhookUrl,
      mode: routing.mode,
      ...(routing.mode === 'provider' && { upstream: routing.upstream }),
    });
    await inChunks(jobs, async (chunk) => {
      await deps.jobs.createMany(chunk);
      await deps.batches.addJobs(
        batchId,
        chunk.map((job) => job.id),
      );
    });
    if (routing.mode === 'provider') await deps.providerBatches.add('provider-batch', { batchId }, providerBatchJobOptions(batchId));
    else await inChunks(jobs, (chunk) => deps.scheduler.enqueue(tenant, chunk.map((job) => ({ id: job.id, priority: job.priority }))));
    return created;
  } catch (error) {
    await rollBack(deps, batchId, jobs, span);
    throw isOutOfMemory(error) ? ApiError.unavailable('Redis is out of memory; try again shortly') : error;
  }
}
