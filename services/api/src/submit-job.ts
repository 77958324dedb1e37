import { ApiError, JobRequest, isId, newId, parseOrThrow, splitJobRequest, type JobObject, type UpstreamRequest } from '@spool/contracts';
import type { ChatJobData } from '@spool/queue';
import { continuationRequest } from '@spool/llm';
import { SessionTurns, parseJobRecord, renderJob, requestHash, type JobFields, type NewJob } from '@spool/jobs';
import type { AppDeps } from './deps.js';
import { acceptWebhookUrl } from './accept-webhook-url.js';
import { fromStore } from './store-errors.js';
import { fromCache } from './cached-job.js';
import { refuseWhenBudgetSpent } from './budget-check.js';
import type { HandedSpan } from '@spool/tracing';
import { carriedTrace, jobTrace } from './trace-context.js';

/** A request up to this many characters of JSON rides along in the queue entry too: a second copy in Redis while the entry lives. */
const HEAD_START_MAX_CHARS = 32 * 1024;

/** Whether a request is small enough to carry: text messages, and within the limit once serialized. */
function carriable(request: UpstreamRequest): boolean {
  let text = 0;
  for (const message of request.messages) {
    if (typeof message.content !== 'string') return false; // images and other parts can be large
    text += message.content.length;
  }
  return text <= HEAD_START_MAX_CHARS && JSON.stringify(request).length <= HEAD_START_MAX_CHARS;
}

/**
 * The queue entry of a job. A small job with no session carries its request, so that its worker
 * can call upstream before the job hash is read; the hash's request is the same (it never changes).
 */
function chatJobData(job: NewJob): ChatJobData {
  // A job with `cache` must not call upstream before its worker has looked for a twin to join.
  return !job.sessionId && !job.cache && carriable(job.request) ? { jobId: job.id, tenant: job.tenant, request: job.request, ...carriedTrace(job) } : { jobId: job.id };
}

/** Records a job and puts it in its tenant's line (and on the queue at once when a worker slot is free). */
async function enqueue(deps: AppDeps, job: NewJob): Promise<JobObject> {
  // Whatever can throw runs before either command starts: a promise started and then left
  // behind by a throw would reject with no one awaiting it.
  const scheduled = { id: job.id, priority: job.priority, data: chatJobData(job) };
  // The job goes in line right behind its admission, on one connection and in one write: Redis
  // runs them in order, so the job is admitted before it is in line. A job its tenant's quota
  // refused is not admitted, and the line takes no job that is not.
  return deps.jobs.create(job, () => deps.scheduler.enqueue(job.tenant, [scheduled]));
}

/**
 * A job may name only a session of its tenant (another tenant's is as absent as a missing one);
 * the session notes the job's turn as due, so readers see it as soon as the job ends.
 */
async function openSessionTurn(deps: AppDeps, tenant: string, sessionId: string, jobId: string): Promise<void> {
  const opened = isId(sessionId, 'sess') && (await fromStore(new SessionTurns(deps.store, deps.jobs).open(tenant, sessionId, jobId)));
  if (!opened) throw ApiError.notFound('session', 'session_id');
}

/**
 * The job a validated request asks for: its upstream request (model defaulted), priority,
 * metadata, on_interrupt and cache, in the trace of `span` (the submission's, when tracing is on);
 * `fields` adds the rest.
 */
export function newJob(tenant: string, request: JobRequest, defaultModel: string, span: HandedSpan | undefined, fields: Partial<NewJob> = {}): NewJob {
  const { upstream, spool } = splitJobRequest(request, defaultModel);
  // A session's prompt depends on its history: its jobs are never cached nor merged.
  const cache = spool.cache && !spool.session_id ? { hash: requestHash(upstream), ttl_s: spool.cache.ttl_s } : null;
  return { id: newId('job'), tenant, request: upstream, priority: spool.priority, metadata: spool.metadata, onInterrupt: spool.on_interrupt, cache, ...jobTrace(span), ...fields };
}

/**
 * Validates a job request now, and gives the request, or throws the validation's error, when
 * called: a route validates while the rate limit is decided, and a refusal still comes first.
 */
export function validateJobRequest(body: unknown): () => JobRequest {
  try {
    const request = parseOrThrow(JobRequest, body);
    return () => request;
  } catch (error) {
    return () => {
      throw error;
    };
  }
}

export interface Submission {
  /** the job's id when chosen beforehand (an idempotent submission's) */
  id?: string;
  /** the body's validation, made beforehand (`validateJobRequest`) */
  validated?: () => JobRequest;
  /** the submission's span when tracing is on: the job joins its trace */
  span?: HandedSpan;
}

/** Validates a job request (unless `validated` did), records it and enqueues it; the job object as created. */
export async function submitJob(deps: AppDeps, tenant: string, body: unknown, { id = newId('job'), validated = validateJobRequest(body), span }: Submission = {}): Promise<JobObject> {
  await refuseWhenBudgetSpent(deps, tenant);
  const request = validated();
  const webhookUrl = request.webhook ? await acceptWebhookUrl(deps, request.webhook.url) : null;
  if (request.session_id) await openSessionTurn(deps, tenant, request.session_id, id);
  const job = newJob(tenant, request, deps.config.defaultModel, span, { id, sessionId: request.session_id, webhookUrl });
  return (await fromCache(deps, job)) ?? enqueue(deps, job);
}

/** The text a new job can pick up from: a reply cut at `length`, or what a failed or cancelled job streamed. */
function continuableText(original: JobObject): string | null {
  if (original.status === 'succeeded' && original.result?.finish_reason === 'length') return original.result.content;
  if ((original.status === 'failed' || original.status === 'cancelled') && original.partial?.content) return original.partial.content;
  return null;
}

/** A new job whose prompt is the original conversation plus the text so far, and whose result is only what comes next; `span` as for `newJob`. */
export async function continueJob(deps: AppDeps, tenant: string, id: string, fields: JobFields, span?: HandedSpan): Promise<JobObject> {
  const record = parseJobRecord(fields);
  const original = renderJob(id, record);
  const text = continuableText(original);
  if (text === null) {
    throw ApiError.conflict('not_continuable', 'Only a job cut off by max tokens, or failed or cancelled with partial text, can be continued');
  }
  await refuseWhenBudgetSpent(deps, tenant);
  return enqueue(deps, {
    id: newId('job'),
    tenant,
    request: continuationRequest(record.request, text, true),
    priority: original.priority,
    metadata: original.metadata,
    onInterrupt: record.on_interrupt,
    continues: id,
    ...jobTrace(span),
  });
}
