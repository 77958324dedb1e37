import { isTerminal, type ChatMessage, type JobObject, type UpstreamRequest } from '@spool/contracts';
import type { JobRepository } from './job-repository.js';
import { renderJob, type JobFields } from './render-job.js';

export interface SessionTurnMessage {
  message: ChatMessage;
  created_at: number;
}

/** What settling a session's turns needs of the store; @spool/store's `Store` is one. */
export interface TurnStore {
  pendingTurns(sessionId: string): Promise<string[]>;
  appendTurn(sessionId: string, jobId: string, messages: SessionTurnMessage[]): Promise<boolean>;
}

/** The turn an ended job adds to its session: its messages as submitted (no history) and the reply; none unless it succeeded. */
export function sessionTurn(job: JobObject, fields: JobFields): SessionTurnMessage[] {
  if (job.status !== 'succeeded' || !job.result) return [];
  const request = JSON.parse(fields.request) as UpstreamRequest;
  return [
    ...request.messages.map((message) => ({ message, created_at: job.created_at })),
    { message: { role: 'assistant' as const, content: job.result.content }, created_at: job.finished_at ?? job.created_at },
  ];
}

/**
 * Writes the turns of the session's jobs that have ended but that the outbox has not got to
 * yet, in the order they ended: whoever saw a job end then sees its turn (reading the session,
 * or running its next job). Jobs still queued or running stay pending.
 */
export async function settleSessionTurns(store: TurnStore, jobs: JobRepository, sessionId: string): Promise<void> {
  const pending = await store.pendingTurns(sessionId);
  const ended: { job: JobObject; fields: JobFields }[] = [];
  for (const id of pending) {
    const fields = await jobs.get(id);
    // Gone from Redis (expired, or never created): the outbox wrote its turn or never will.
    if (!fields) await store.appendTurn(sessionId, id, []);
    else if (isTerminal(fields.status)) ended.push({ job: renderJob(id, fields), fields });
  }
  ended.sort((a, b) => (a.job.finished_at ?? 0) - (b.job.finished_at ?? 0));
  for (const { job, fields } of ended) await store.appendTurn(sessionId, job.id, sessionTurn(job, fields));
}
