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

/** `model`: the model that answered, which is a fallback of the job's when its own had no upstream available (§13). */
export const JobResult = z.object({ content: z.string(), finish_reason: FinishReason, usage: Usage, model: z.string().optional() });
export type JobResult = z.infer<typeof JobResult>;

export const JobPartial = z.object({ content: z.string(), completion_tokens: z.number().int() });
export type JobPartial = z.infer<typeof JobPartial>;

export const JobError = z.object({ code: z.string(), message: z.string() });
export type JobError = z.infer<typeof JobError>;

/** How one upstream call of a job ended (API.md §13). */
export const AttemptOutcome = z.enum(['succeeded', 'rate_limited', 'not_served', 'failed', 'aborted']);
export type AttemptOutcome = z.infer<typeof AttemptOutcome>;

/** One upstream call of a job: which upstream, which model, when, and how it ended. */
export const AttemptLogEntry = z.object({
  attempt: z.number().int(),
  upstream: z.string(),
  model: z.string(),
  started_at: z.number().int(),
  ended_at: z.number().int(),
  outcome: AttemptOutcome,
  error_code: z.string().nullable(),
});
export type AttemptLogEntry = z.infer<typeof AttemptLogEntry>;

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
  attempt_log: z.array(AttemptLogEntry).optional(),
  /** the result came from the response cache, without an upstream call (API.md §14) */
  cached: z.boolean().optional(),
  /** what its upstream calls cost, in USD, at the model's prices (every attempt that reached upstream) */
  cost_usd: z.number(),
  /** a queued job's: what holds it now (API.md §12) */
  waiting_on: z.enum(['capacity', 'tenant_concurrency', 'tenant_rpm', 'tenant_tpm', 'upstream_rate_limit', 'budget']).optional(),
});
export type JobObject = z.infer<typeof JobObject>;

export const JobEventName = z.enum(['status', 'delta', 'reset', 'done']);
export type JobEventName = z.infer<typeof JobEventName>;

/** `status`: an attempt is queued or starts running (API.md §4). */
export const StatusEventData = z.object({ status: z.enum(['queued', 'running']), attempt: z.number().int().min(1) });
export type StatusEventData = z.infer<typeof StatusEventData>;

/** `delta`: the next piece of the reply's text. */
export const DeltaEventData = z.object({ content: z.string() });
export type DeltaEventData = z.infer<typeof DeltaEventData>;

/** `reset`: drop what came so far (`on_interrupt: "restart"`). */
export const ResetEventData = z.object({ attempt: z.number().int().min(1), reason: z.string() });
export type ResetEventData = z.infer<typeof ResetEventData>;

/** `done`: the final job object. */
export const DoneEventData = JobObject;
export type DoneEventData = z.infer<typeof DoneEventData>;

/** Each event's data schema, by the event's name. */
export const JobEventData = { status: StatusEventData, delta: DeltaEventData, reset: ResetEventData, done: DoneEventData } satisfies Record<JobEventName, z.ZodType>;
export type JobEventData = { [Name in JobEventName]: z.infer<(typeof JobEventData)[Name]> };

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
