import { z } from 'zod';
import { Metadata, Webhook } from './job-request.js';
import type { JobError, JobResult, JobStatus } from './job.js';

export const BATCH_MAX_REQUESTS = 50_000;

export const CustomId = z.string().min(1).max(512);

/** `POST /v1/batches` as JSON; each request's `body` is then checked as a job (`JobRequest`). */
export const BatchRequest = z.object({
  requests: z.array(z.unknown()).min(1).max(BATCH_MAX_REQUESTS),
  webhook: Webhook.nullish(),
  metadata: Metadata.default({}),
});
export type BatchRequest = z.infer<typeof BatchRequest>;

export const BatchRequestItem = z.object({ custom_id: CustomId, body: z.unknown() });
export type BatchRequestItem = z.infer<typeof BatchRequestItem>;

/** One line of an OpenAI batch file; `method` and `url` may be left out, but if given must be these. */
export const BatchFileLine = z.object({
  custom_id: CustomId,
  method: z.literal('POST').optional(),
  url: z.literal('/v1/chat/completions').optional(),
  body: z.unknown(),
});
export type BatchFileLine = z.infer<typeof BatchFileLine>;

export const BatchStatus = z.enum(['in_progress', 'completed', 'cancelling', 'cancelled']);
export type BatchStatus = z.infer<typeof BatchStatus>;

/** The public batch object of API.md §8. `failed` counts cancelled requests too. */
export const BatchObject = z.object({
  id: z.string(),
  object: z.literal('batch'),
  status: BatchStatus,
  request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
  created_at: z.number().int(),
  completed_at: z.number().int().nullable(),
  metadata: z.record(z.string(), z.string()),
});
export type BatchObject = z.infer<typeof BatchObject>;

/** One line of `GET /v1/batches/{id}/results`. */
export interface BatchResultLine {
  custom_id: string;
  job_id: string;
  status: JobStatus;
  result: JobResult | null;
  error: JobError | null;
}
