import { z } from 'zod';

export const JobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export const FinishReason = z.enum(['stop', 'length', 'content_filter', 'tool_calls']);
export type FinishReason = z.infer<typeof FinishReason>;

export const Usage = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
});
export type Usage = z.infer<typeof Usage>;

export const JobResult = z.object({ content: z.string(), finish_reason: FinishReason, usage: Usage });
export type JobResult = z.infer<typeof JobResult>;

export const JobPartial = z.object({ content: z.string(), completion_tokens: z.number().int() });
export type JobPartial = z.infer<typeof JobPartial>;

export const JobError = z.object({ code: z.string(), message: z.string() });
export type JobError = z.infer<typeof JobError>;

/** The public job object of API.md §3. */
export const JobObject = z.object({
  id: z.string(),
  object: z.literal('job'),
  status: JobStatus,
  model: z.string(),
  created_at: z.number().int(),
  started_at: z.number().int().nullable(),
  finished_at: z.number().int().nullable(),
  attempts: z.number().int(),
  priority: z.number().int(),
  session_id: z.string().nullable(),
  batch_id: z.string().nullable(),
  continues: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  stream_url: z.string(),
  result: JobResult.nullable(),
  partial: JobPartial.nullable(),
  error: JobError.nullable(),
});
export type JobObject = z.infer<typeof JobObject>;

export type JobEventName = 'status' | 'delta' | 'reset' | 'done';

/** One entry of a job's event log; `id` counts up from 1 per job. */
export interface JobEvent {
  id: number;
  event: JobEventName;
  /** the event's JSON, kept as text end to end */
  data: string;
}

export function isTerminal(status: string | undefined): boolean {
  return TERMINAL_STATUSES.includes(status as JobStatus);
}
