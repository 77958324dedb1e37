import type { JobObject, JobStatus } from '@spool/contracts';

/** A job hash as Redis holds it: every value a string, JSON where structured. */
export type JobFields = Record<string, string>;

/** The hash fields `renderJob` reads: a listing fetches only these, never the request (up to 1 MB). */
export const RENDERED_FIELDS = [
  'status',
  'model',
  'created_at',
  'started_at',
  'finished_at',
  'attempts',
  'priority',
  'session_id',
  'batch_id',
  'continues',
  'metadata',
  'result',
  'partial',
  'error',
] as const;

const json = <T>(value: string | undefined): T | null => (value ? (JSON.parse(value) as T) : null);
const int = (value: string | undefined): number | null => (value ? Number(value) : null);

/** The public job object of a job hash; the one renderer behind GET, list, wait and `done`. */
export function renderJob(id: string, fields: JobFields): JobObject {
  return {
    id,
    object: 'job',
    status: fields.status as JobStatus,
    model: fields.model,
    created_at: Number(fields.created_at),
    started_at: int(fields.started_at),
    finished_at: int(fields.finished_at),
    attempts: Number(fields.attempts ?? 0),
    priority: Number(fields.priority),
    session_id: fields.session_id || null,
    batch_id: fields.batch_id || null,
    continues: fields.continues || null,
    metadata: json<Record<string, string>>(fields.metadata) ?? {},
    stream_url: `/v1/jobs/${id}/events`,
    result: json(fields.result),
    partial: json(fields.partial),
    error: json(fields.error),
  };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
