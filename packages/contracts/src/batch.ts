import { z } from 'zod';
import { Metadata, Webhook } from './job-request.js';
import type { JobError, JobResult, JobStatus } from './job.js';

export const BATCH_MAX_REQUESTS = 50_000;

export const CustomId = z.string().min(1).max(512);

/**
 * OpenAI's `completion_window`: `24h` asks for the upstream's own Batch API (API.md §14); the
 * only value OpenAI takes, and the only one Spool does.
 */
export const CompletionWindow = z.literal('24h', { error: "must be '24h' (the upstream's Batch API), or left out" });
export type CompletionWindow = z.infer<typeof CompletionWindow>;

/** `POST /v1/batches` as JSON; each request's `body` is then checked as a job (`JobRequest`). */
export const BatchRequest = z.object({
  requests: z.array(z.unknown()).min(1).max(BATCH_MAX_REQUESTS),
  webhook: Webhook.nullish(),
  metadata: Metadata.default({}),
  completion_window: CompletionWindow.nullish(),
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

/** `live`: its requests run as jobs; `provider`: through the upstream's Batch API (API.md §14). */
export const BatchMode = z.enum(['live', 'provider']);
export type BatchMode = z.infer<typeof BatchMode>;

/** The public batch object of API.md §8. `failed` counts cancelled requests too. */
export const BatchObject = z.object({
  id: z.string(),
  object: z.literal('batch'),
  status: BatchStatus,
  request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
  created_at: z.number().int(),
  completed_at: z.number().int().nullable(),
  metadata: z.record(z.string(), z.string()),
  mode: BatchMode,
  /** what its ended requests cost: provider lines at the model's prices times `batch_discount`, live ones at full price */
  cost_usd: z.number(),
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
