import { z } from 'zod';
import { JobStatus, type AttemptLogEntry, type JobError, type JobObject, type JobPartial, type JobResult, type UpstreamRequest } from '@spool/contracts';
import type { JobCache } from './response-cache.js';
import { fromNanoUsd } from './tenant-spend.js';

/** A job hash as Redis holds it: every value a string, JSON where structured. */
export type JobFields = Record<string, string>;

/** JSON this package wrote into the hash: parsed, not validated again. */
const json = <T>() => z.string().transform((text) => JSON.parse(text) as T);
/** An optional field, `null` when absent or empty. */
const orNull = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema.optional()).transform((value) => value ?? null);
const count = z.coerce.number().int();

/** The fields of a job hash that `renderJob` reads: a listing fetches only these, never the request (up to 1 MB). */
export const RenderedRecord = z.object({
  status: JobStatus,
  model: z.string(),
  created_at: count,
  started_at: orNull(count),
  finished_at: orNull(count),
  attempts: count.default(0),
  priority: count,
  session_id: orNull(z.string()),
  batch_id: orNull(z.string()),
  continues: orNull(z.string()),
  metadata: orNull(json<Record<string, string>>()).transform((metadata) => metadata ?? {}),
  result: orNull(json<JobResult>()),
  partial: orNull(json<JobPartial>()),
  error: orNull(json<JobError>()),
  /** every upstream call recorded so far, oldest first */
  attempt_log: orNull(json<AttemptLogEntry[]>()).transform((log) => log ?? []),
  /** '1' when the result came from the response cache */
  cached: z.string().optional().transform((value) => value === '1'),
  /** what its settled upstream calls cost, nano-USD (budget-settle.lua adds each) */
  cost_nusd: count.default(0),
});
export type RenderedRecord = z.infer<typeof RenderedRecord>;

/** How a reply that streamed to its end ended (and the model that answered); its text is the log's. */
export type StreamEnd = Pick<JobResult, 'finish_reason' | 'usage' | 'model'>;

/** A job hash, parsed once into what its fields mean. */
export const JobRecord = RenderedRecord.extend({
  tenant: z.string(),
  request: json<UpstreamRequest>(),
  on_interrupt: z.enum(['continue', 'restart']).catch('continue'),
  webhook_url: orNull(z.string()),
  /** the request's `custom_id` in its batch */
  custom_id: orNull(z.string()),
  /** the tokens the fair scheduler charged the tenant's TPM at release */
  est_tokens: count.default(0),
  /** attempts given back without counting (rate limits, outages) */
  deferrals: count.default(0),
  /** upstream's HTTP status behind `error` */
  upstream_status: orNull(count),
  /** the end an attempt recorded with its last deltas (`JobRepository.append`): the job's whole reply is in its log */
  stream_end: orNull(json<StreamEnd>()),
  /** the job's `cache` option: its request's hash and ttl (response-cache.ts) */
  cache: orNull(json<JobCache>()),
  /** the job whose upstream call gave this job its result (it joined an identical job) */
  merged_with: orNull(z.string()),
  /** upstream calls billed to its tenant, and their tokens (budget-settle.lua) */
  billed_requests: count.default(0),
  billed_prompt_tokens: count.default(0),
  billed_completion_tokens: count.default(0),
  /** the budget month (`YYYY-MM`) its last billed call was counted in */
  cost_month: orNull(z.string()),
  /** the submission's W3C trace context, when tracing was on */
  traceparent: orNull(z.string()),
  /** when the job was submitted, Unix ms; written with `traceparent` */
  queued_at_ms: orNull(count),
});
export type JobRecord = z.infer<typeof JobRecord>;

const RecordWithoutRequest = JobRecord.omit({ request: true });

export const RENDERED_FIELDS = Object.keys(RenderedRecord.shape) as (keyof RenderedRecord)[];

/**
 * The record of a job hash. `request`, when the caller holds the job's request parsed already (a
 * queue entry that carries it), is taken instead of parsing the hash's copy (the same; up to 1 MB).
 */
export function parseJobRecord(fields: JobFields, request?: UpstreamRequest): JobRecord {
  return request ? { ...RecordWithoutRequest.parse(fields), request } : JobRecord.parse(fields);
}

/** The public job object of a job record; the one renderer behind GET, list, wait and `done`. */
export function renderJob(id: string, record: RenderedRecord): JobObject {
  return {
    id,
    object: 'job',
    status: record.status,
    model: record.model,
    created_at: record.created_at,
    started_at: record.started_at,
    finished_at: record.finished_at,
    attempts: record.attempts,
    priority: record.priority,
    session_id: record.session_id,
    batch_id: record.batch_id,
    continues: record.continues,
    metadata: record.metadata,
    stream_url: `/v1/jobs/${id}/events`,
    result: record.result,
    partial: record.partial,
    error: record.error,
    attempt_log: record.attempt_log,
    cached: record.cached,
    cost_usd: fromNanoUsd(record.cost_nusd),
  };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The public job object of a job hash, parsing only the fields it shows (never the request, up to 1 MB). */
export function renderFields(id: string, fields: JobFields): JobObject {
  return renderJob(id, RenderedRecord.parse(fields));
}
