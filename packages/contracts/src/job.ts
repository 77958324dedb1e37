export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface JobResult {
  content: string;
  finish_reason: FinishReason;
  usage: Usage;
}

export interface JobPartial {
  content: string;
  completion_tokens: number;
}

export interface JobError {
  code: string;
  message: string;
}

/** The public job object of API.md §3. */
export interface JobObject {
  id: string;
  object: 'job';
  status: JobStatus;
  model: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  attempts: number;
  priority: number;
  session_id: string | null;
  batch_id: string | null;
  continues: string | null;
  metadata: Record<string, string>;
  stream_url: string;
  result: JobResult | null;
  partial: JobPartial | null;
  error: JobError | null;
}

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
