import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { newId, type ChatMessage, type JobObject } from '@spool/contracts';
import { migrations } from './migrations.js';
import { PRUNE_BATCH_SIZE, StoreError, StoreUnavailableError, type PruneResult, type Session, type SessionState, type SpendRecord, type SpendTotal, type Store, type TurnMessage, type UsageRecord, type UsageTotal } from './store.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** The budget month now, `YYYY-MM` (UTC): its spend is never pruned. */
const currentMonth = () => new Date().toISOString().slice(0, 7);

/** Errors that say "not now" rather than "never": another process holds the lock, the disk is full... */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|PROTOCOL)/;

function translate(error: unknown): Error {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE.test(code)) return new StoreUnavailableError('SQLite is unavailable', { cause: error });
  return new StoreError('SQLite store operation failed', { cause: error });
}

export interface SqliteStoreOptions {
  /** a file path (its folder is created), or `:memory:` */
  path: string;
  /** how long a write waits for another process's lock, ms (default 5000) */
  busyTimeoutMs?: number;
}

interface MessageRow {
  message: string;
  created_at: number;
  job_id: string;
}

/**
 * The default store: one SQLite file in WAL mode, so the API and any number of worker processes
 * on the machine read while one writes. better-sqlite3 is synchronous; every call is short.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;

  constructor(options: SqliteStoreOptions) {
    const memory = options.path === ':memory:';
    if (!memory) mkdirSync(dirname(resolve(options.path)), { recursive: true });
    try {
      this.db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
      if (!memory) this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
    } catch (error) {
      throw translate(error);
    }
  }

  private migrate(): void {
    const steps = migrations((name) => name);
    // IMMEDIATE: two processes starting at once take turns instead of both migrating.
    this.db
      .transaction(() => {
        const version = this.db.pragma('user_version', { simple: true }) as number;
        for (let index = version; index < steps.length; index++) {
          for (const statement of steps[index]) this.db.exec(statement);
        }
        if (version < steps.length) this.db.pragma(`user_version = ${steps.length}`);
      })
      .immediate();
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once per SQL text: preparing costs more than running these small statements. */
  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(translate(error));
    }
  }

  /** Writes queued in this turn of the event loop, committed together by `commitQueued`. */
  private queued: { work: () => void; resolve: () => void; reject: (error: Error) => void }[] = [];

  /**
   * A write that answers nothing, committed with the other writes of this turn in one
   * transaction: each ended job writes two or three rows, and a commit of their own each writes
   * the WAL each time. A batch that fails is written again one by one, so each learns its own fate.
   */
  private write(work: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.queued.push({ work, resolve, reject }) === 1) setImmediate(() => this.commitQueued());
    });
  }

  private commitQueued(): void {
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return;
    try {
      this.db.transaction(() => {
        for (const write of batch) write.work();
      })();
      for (const write of batch) write.resolve();
    } catch {
      for (const write of batch) {
        try {
          write.work();
          write.resolve();
        } catch (error) {
          write.reject(translate(error));
        }
      }
    }
  }

  createSession(tenant: string): Promise<Session> {
    return this.run(() => {
      const session = { id: newId('sess'), tenant, created_at: nowSeconds() };
      this.statement('INSERT INTO sessions (id, tenant, created_at) VALUES (?, ?, ?)').run(session.id, tenant, session.created_at);
      return session;
    });
  }

  getSession(id: string, tenant: string): Promise<SessionState | null> {
    return this.run(() =>
      this.db.transaction(() => {
        const session = this.statement('SELECT id, tenant, created_at FROM sessions WHERE id = ? AND tenant = ?').get(id, tenant) as Session | undefined;
        if (!session) return null;
        const pending = this.statement('SELECT job_id FROM session_pending WHERE session_id = ? ORDER BY created_at, job_id').pluck().all(id) as string[];
        const rows = this.statement('SELECT message, created_at, job_id FROM session_messages WHERE session_id = ? ORDER BY position').all(id) as MessageRow[];
        const messages = rows.map((row) => ({ message: JSON.parse(row.message) as ChatMessage, created_at: row.created_at, job_id: row.job_id }));
        return { ...session, messages, pending };
      })(),
    );
  }

  deleteSession(id: string, tenant: string): Promise<boolean> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const deleted = this.statement('DELETE FROM sessions WHERE id = ? AND tenant = ?').run(id, tenant).changes > 0;
          if (deleted) {
            this.statement('DELETE FROM session_messages WHERE session_id = ?').run(id);
            this.statement('DELETE FROM session_pending WHERE session_id = ?').run(id);
          }
          return deleted;
        })
        .immediate(),
    );
  }

  expectTurn(sessionId: string, tenant: string, jobId: string): Promise<boolean> {
    return this.run(() =>
      this.db
        .transaction(() => {
          if (!this.statement('SELECT 1 FROM sessions WHERE id = ? AND tenant = ?').get(sessionId, tenant)) return false;
          this.statement('INSERT INTO session_pending (session_id, job_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(sessionId, jobId, nowSeconds());
          return true;
        })
        .immediate(),
    );
  }

  appendTurn(sessionId: string, tenant: string, jobId: string, messages: TurnMessage[]): Promise<boolean> {
    return this.run(() =>
      this.db
        .transaction(() => {
          if (!this.statement('SELECT 1 FROM sessions WHERE id = ? AND tenant = ?').get(sessionId, tenant)) return false;
          this.statement('DELETE FROM session_pending WHERE session_id = ? AND job_id = ?').run(sessionId, jobId);
          if (messages.length === 0) return false;
          if (this.statement('SELECT 1 FROM session_messages WHERE session_id = ? AND job_id = ? LIMIT 1').get(sessionId, jobId)) return false;
          const last = this.statement('SELECT coalesce(max(position), 0) FROM session_messages WHERE session_id = ?').pluck().get(sessionId) as number;
          const insert = this.statement('INSERT INTO session_messages (session_id, position, job_id, message, created_at) VALUES (?, ?, ?, ?, ?)');
          messages.forEach((turn, index) => insert.run(sessionId, last + index + 1, jobId, JSON.stringify(turn.message), turn.created_at));
          return true;
        })
        .immediate(),
    );
  }

  putJob(tenant: string, job: JobObject): Promise<void> {
    return this.write(() => {
      this.statement(
          `INSERT INTO jobs (id, tenant, status, created_at, job) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET status = excluded.status, job = excluded.job`,
        )
        .run(job.id, tenant, job.status, job.created_at, JSON.stringify(job));
    });
  }

  getJob(id: string, tenant: string): Promise<JobObject | null> {
    return this.run(() => {
      const json = this.statement('SELECT job FROM jobs WHERE id = ? AND tenant = ?').pluck().get(id, tenant) as string | undefined;
      return json ? (JSON.parse(json) as JobObject) : null;
    });
  }

  recordUsage(usage: UsageRecord): Promise<void> {
    return this.write(() => {
      this.statement(
          `INSERT INTO usage (job_id, tenant, model, prompt_tokens, completion_tokens, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (job_id) DO NOTHING`,
        )
        .run(usage.jobId, usage.tenant, usage.model, usage.promptTokens, usage.completionTokens, nowSeconds());
    });
  }

  usage(tenant: string): Promise<UsageTotal[]> {
    return this.run(
      () =>
        this.statement(
            `SELECT model, count(*) AS jobs, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens
             FROM usage WHERE tenant = ? GROUP BY model ORDER BY model`,
          )
          .all(tenant) as UsageTotal[],
    );
  }

  recordSpend(spend: SpendRecord): Promise<void> {
    return this.write(() => {
      this.statement(
          `INSERT INTO job_spend (job_id, tenant, month, cost_nano_usd, requests, prompt_tokens, completion_tokens, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (job_id) DO UPDATE SET month = excluded.month, cost_nano_usd = excluded.cost_nano_usd, requests = excluded.requests,
             prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens`,
        )
        .run(spend.jobId, spend.tenant, spend.month, spend.costNanoUsd, spend.requests, spend.promptTokens, spend.completionTokens, nowSeconds());
    });
  }

  spend(tenant: string, month: string): Promise<SpendTotal> {
    return this.run(() => {
      const row = this.statement(
          `SELECT coalesce(sum(cost_nano_usd), 0) AS costNanoUsd, coalesce(sum(requests), 0) AS requests,
             coalesce(sum(prompt_tokens), 0) AS promptTokens, coalesce(sum(completion_tokens), 0) AS completionTokens
           FROM job_spend WHERE tenant = ? AND month = ?`,
        )
        .get(tenant, month) as SpendTotal;
      return { ...row };
    });
  }

  async prune(before: number): Promise<PruneResult> {
    return {
      jobs: await this.deleteInBatches(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE created_at < @before LIMIT ${PRUNE_BATCH_SIZE})`, before),
      usage:
        (await this.deleteInBatches(`DELETE FROM usage WHERE job_id IN (SELECT job_id FROM usage WHERE recorded_at < @before LIMIT ${PRUNE_BATCH_SIZE})`, before)) +
        (await this.deleteInBatches(
          `DELETE FROM job_spend WHERE job_id IN (SELECT job_id FROM job_spend WHERE recorded_at < @before AND month < '${currentMonth()}' LIMIT ${PRUNE_BATCH_SIZE})`,
          before,
        )),
      sessions: await this.deleteInBatches(
        `DELETE FROM sessions WHERE id IN (
           SELECT id FROM sessions s WHERE created_at < @before
             AND NOT EXISTS (SELECT 1 FROM session_messages m WHERE m.session_id = s.id AND m.created_at >= @before)
             AND NOT EXISTS (SELECT 1 FROM session_pending p WHERE p.session_id = s.id AND p.created_at >= @before)
           LIMIT ${PRUNE_BATCH_SIZE}
         ) RETURNING id`,
        before,
        (ids) => {
          for (const id of ids) {
            this.statement('DELETE FROM session_messages WHERE session_id = ?').run(id);
            this.statement('DELETE FROM session_pending WHERE session_id = ?').run(id);
          }
        },
      ),
    };
  }

  /**
   * Runs a batch-limited DELETE until a batch comes back short, letting the event loop breathe
   * between batches (better-sqlite3 blocks it). `alongside` runs in the same transaction with
   * the deleted rows' first column, when the statement returns it.
   */
  private async deleteInBatches(sql: string, before: number, alongside?: (ids: string[]) => void): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.run(() =>
        this.db
          .transaction(() => {
            if (!alongside) return this.statement(sql).run({ before }).changes;
            const ids = this.statement(sql).pluck().all({ before }) as string[];
            alongside(ids);
            return ids.length;
          })
          .immediate(),
      );
      total += deleted;
      if (deleted < PRUNE_BATCH_SIZE) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  ping(): Promise<void> {
    return this.run(() => {
      this.statement('SELECT 1').get();
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.commitQueued();
    if (this.db.open) this.db.close();
  }
}
