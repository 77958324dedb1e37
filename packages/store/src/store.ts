import { SpoolError, type ChatMessage, type JobObject } from '@spool/contracts';

export interface Session {
  id: string;
  tenant: string;
  created_at: number;
}

/** One message of a job's turn; `created_at` in Unix seconds. */
export interface TurnMessage {
  message: ChatMessage;
  created_at: number;
}

/** A message as a session keeps it: the turn's message, and the job whose turn it is. */
export interface SessionMessage extends TurnMessage {
  job_id: string;
}

/** A session as one read finds it. */
export interface SessionState extends Session {
  /** its messages, oldest first */
  messages: SessionMessage[];
  /** its jobs whose turn is due and not yet written, oldest first */
  pending: string[];
}

export interface UsageRecord {
  tenant: string;
  jobId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
}

export interface UsageTotal {
  model: string;
  jobs: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** An ended job's spend: what its upstream calls cost, counted in its tenant's budget month. */
export interface SpendRecord {
  tenant: string;
  jobId: string;
  /** the budget month, `YYYY-MM` (UTC) */
  month: string;
  costNanoUsd: number;
  /** upstream calls billed */
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** A tenant's spend in one month: the sum of its jobs' records. */
export interface SpendTotal {
  costNanoUsd: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** What one `prune` deleted. */
export interface PruneResult {
  jobs: number;
  /** usage rows, and spend rows of months before the current one */
  usage: number;
  sessions: number;
}

/** Rows one pruning statement deletes at most, so a large backlog never holds the store for long. */
export const PRUNE_BATCH_SIZE = 500;

/**
 * The durable store: sessions, the final record of every job, usage per tenant. Writes that
 * come from the job-ended outbox run at least once, so each is idempotent by job id.
 */
export interface Store {
  createSession(tenant: string): Promise<Session>;
  /**
   * The session with its messages and due turns, read at one moment, if it exists and belongs
   * to `tenant`; another tenant's is as absent as a missing one.
   */
  getSession(id: string, tenant: string): Promise<SessionState | null>;
  /** Removes the session and its messages; false when there was none for `tenant`. */
  deleteSession(id: string, tenant: string): Promise<boolean>;
  /**
   * Notes that a job of the session was submitted: its turn is due when it ends. False (and
   * nothing written) when the session is not `tenant`'s.
   */
  expectTurn(sessionId: string, tenant: string, jobId: string): Promise<boolean>;
  /**
   * Appends a job's turn at the end of the session in one step, and settles it (no longer
   * pending); no messages settles it without a turn. False (and nothing written) when the
   * job's turn is already there, there was none to write, or the session is gone or not `tenant`'s.
   */
  appendTurn(sessionId: string, tenant: string, jobId: string, messages: TurnMessage[]): Promise<boolean>;
  /** Writes a job's object as it is now, replacing an earlier one. */
  putJob(tenant: string, job: JobObject): Promise<void>;
  getJob(id: string, tenant: string): Promise<JobObject | null>;
  /** Counts a job's tokens once, however often it is called for the same job. */
  recordUsage(usage: UsageRecord): Promise<void>;
  usage(tenant: string): Promise<UsageTotal[]>;
  /** Keeps a job's spend, replacing an earlier record of the same job: counted once however often it is called. */
  recordSpend(spend: SpendRecord): Promise<void>;
  /** A tenant's spend in `month` (`YYYY-MM`), summed over its jobs; zeros when there is none. */
  spend(tenant: string, month: string): Promise<SpendTotal>;
  /**
   * Deletes what is older than `before` (Unix seconds): job records of jobs submitted before it,
   * usage recorded before it (spend too, but never the current month's: budgets need it), and sessions made before it with no turn since (with their
   * messages). Idempotent, in batches of `PRUNE_BATCH_SIZE`; several processes may run it at once.
   */
  prune(before: number): Promise<PruneResult>;
  /** Resolves when the store answers; the schema is brought up to date on the way. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The root of the store's errors; `cause` is the driver's own error. */
export class StoreError extends SpoolError {
  constructor(message: string, options?: { cause?: unknown }, code = 'store_error') {
    super(code, message, options);
  }
}

/** The store cannot be reached or is busy: the same call may succeed later. */
export class StoreUnavailableError extends StoreError {
  declare readonly code: 'store_unavailable';
  readonly isRetryable = true;
  constructor(message = 'The store is unavailable', options?: { cause?: unknown }) {
    super(message, options, 'store_unavailable');
  }
}
