import { isTerminal, type JobObject, type UpstreamRequest } from '@spool/contracts';
import type { SessionState, Store, TurnMessage } from '@spool/store';
import type { JobRepository } from './job-repository.js';
import type { JobEndedHandler } from './outbox.js';
import { parseJobRecord, renderJob, type JobRecord } from './job-record.js';
import { promptBudget, withHistory } from './session-history.js';

export interface SessionTurnsOptions {
  /**
   * The prompt's context budget for a model: its `context_tokens` in SPOOL_CONFIG, else
   * SPOOL_CONTEXT_TOKENS; undefined: the model's window, 128000 if unknown.
   */
  contextTokens?: (model: string) => number | undefined;
}

/** The turn an ended job adds to its session: its messages as submitted (no history) and the reply; none unless it succeeded. */
function turnOf(job: JobObject, record: JobRecord): TurnMessage[] {
  if (job.status !== 'succeeded' || !job.result) return [];
  return [
    ...record.request.messages.map((message) => ({ message, created_at: job.created_at })),
    { message: { role: 'assistant' as const, content: job.result.content }, created_at: job.finished_at ?? job.created_at },
  ];
}

/**
 * A session's turns, from submission to history: the API opens a job's turn, the worker reads
 * the history before the job's messages, and the outbox appends the turn once the job ended.
 * Every operation names the tenant, checked by the store in the same statement that reads or
 * writes: a session of another tenant is as absent as a missing one.
 */
export class SessionTurns {
  constructor(
    private readonly store: Store,
    /** to write the turns of jobs that ended a moment ago, before the outbox gets to them */
    private readonly jobs: JobRepository,
    private readonly options: SessionTurnsOptions = {},
  ) {}

  /** Notes a job's turn as due, so readers see it as soon as the job ends; false when the session is not the tenant's. */
  open(tenant: string, sessionId: string, jobId: string): Promise<boolean> {
    return this.store.expectTurn(sessionId, tenant, jobId);
  }

  /**
   * The tenant's session, after writing the turns of its jobs that have ended but that the
   * outbox has not got to yet, in the order they ended: whoever saw a job end then sees its turn
   * (reading the session, or running its next job). Jobs still queued or running stay pending.
   */
  async settle(tenant: string, sessionId: string): Promise<SessionState | null> {
    const session = await this.store.getSession(sessionId, tenant);
    if (!session || session.pending.length === 0) return session;
    const records = await Promise.all(session.pending.map((id) => this.jobs.get(id)));
    const ended: { job: JobObject; record: JobRecord }[] = [];
    let settled = false;
    for (const [index, fields] of records.entries()) {
      const id = session.pending[index];
      // Gone from Redis (expired, or never created): the outbox wrote its turn or never will.
      if (!fields) await this.store.appendTurn(sessionId, tenant, id, []);
      else if (isTerminal(fields.status)) {
        const record = parseJobRecord(fields);
        ended.push({ job: renderJob(id, record), record });
      }
      else continue;
      settled = true;
    }
    if (!settled) return session;
    ended.sort((a, b) => (a.job.finished_at ?? 0) - (b.job.finished_at ?? 0));
    for (const { job, record } of ended) await this.store.appendTurn(sessionId, tenant, job.id, turnOf(job, record));
    return this.store.getSession(sessionId, tenant);
  }

  /**
   * The worker's `prepareRequest`: a job with a session gets the session's history before its
   * messages, the oldest turns dropped to fit the context budget.
   */
  readonly history = async (request: UpstreamRequest, record: Pick<JobRecord, 'session_id' | 'tenant'>): Promise<UpstreamRequest> => {
    const { session_id: sessionId, tenant } = record;
    if (!sessionId) return request;
    const session = await this.settle(tenant, sessionId);
    if (!session || session.messages.length === 0) return request;
    return { ...request, messages: await withHistory(session.messages, request.messages, promptBudget(request, this.options.contextTokens?.(request.model))) };
  };

  /**
   * The outbox handler: an ended job of a session settles its turn. If it succeeded, its own
   * messages (as submitted, without the history put before them) and the reply are appended in
   * one step, once however often this runs; otherwise the turn is dropped from the pending ones.
   */
  readonly append: JobEndedHandler = async (job, record) => {
    if (!record.session_id) return;
    await this.store.appendTurn(record.session_id, record.tenant, job.id, turnOf(job, record));
  };
}
