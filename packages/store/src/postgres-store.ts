import pg from 'pg';
import { newId, type ChatMessage, type JobObject } from '@spool/contracts';
import { migrations } from './migrations.js';
import { PRUNE_BATCH_SIZE, StoreError, StoreUnavailableError, type PruneResult, type Session, type SessionState, type SpendRecord, type SpendTotal, type Store, type TurnMessage, type UsageRecord, type UsageTotal } from './store.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** The budget month now, `YYYY-MM` (UTC): its spend is never pruned. */
const currentMonth = () => new Date().toISOString().slice(0, 7);
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** Connection trouble, a server shutting down or out of resources: worth trying again later. */
function isUnavailable(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || /^(08|57P|53)/.test(code))) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return typeof message === 'string' && /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i.test(message);
}

function translate(error: unknown): Error {
  if (error instanceof StoreError) return error;
  if (isUnavailable(error)) return new StoreUnavailableError('PostgreSQL is unavailable', { cause: error });
  return new StoreError('PostgreSQL store operation failed', { cause: error });
}

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` */
  url: string;
  /** the schema Spool's tables live in, created if missing (default `spool`) */
  schema?: string;
  /** pool size (default 5) */
  maxConnections?: number;
  /** how long to wait for a connection before the store counts as unavailable, ms (default 2000) */
  connectTimeoutMs?: number;
  /** an idle pooled connection broke; the pool replaces it by itself */
  onError?: (error: Error) => void;
}

interface SessionRow {
  id: string;
  tenant: string;
  created_at: string;
  /** [message JSON, created_at, job_id] per message, oldest first */
  messages: [string, number, string][];
  pending: string[];
}

/**
 * The store for several machines: PostgreSQL through a small pool. The schema is migrated on
 * first use (under an advisory lock, so processes starting together take turns), and again on
 * the next call if the server was down then.
 */
export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private migrated: Promise<void> | null = null;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    this.schema = options.schema ?? 'spool';
    if (!SCHEMA_NAME.test(this.schema)) throw new StoreError(`invalid PostgreSQL schema name: ${this.schema}`);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 5,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
      idleTimeoutMillis: 30_000,
    });
    this.pool.on('error', (error) => options.onError?.(error));
  }

  private table(name: string): string {
    return `"${this.schema}"."${name}"`;
  }

  /** Brings the schema up to date once; a failure is retried by the next call. */
  private ready(): Promise<void> {
    this.migrated ??= this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`spool-store:${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.table('schema_migrations')} (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
      const current = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${this.table('schema_migrations')}`);
      const steps = migrations((name) => this.table(name));
      for (let index = current.rows[0].version ?? 0; index < steps.length; index++) {
        for (const statement of steps[index]) await client.query(statement);
        await client.query(`INSERT INTO ${this.table('schema_migrations')} (version, applied_at) VALUES ($1, $2)`, [index + 1, nowSeconds()]);
      }
    }, false).catch((error: unknown) => {
      this.migrated = null;
      throw translate(error);
    });
    return this.migrated;
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ready();
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw translate(error);
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>, migrate = true): Promise<T> {
    if (migrate) await this.ready();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw translate(error);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw translate(error);
    } finally {
      client.release();
    }
  }

  async createSession(tenant: string): Promise<Session> {
    const session = { id: newId('sess'), tenant, created_at: nowSeconds() };
    await this.query(`INSERT INTO ${this.table('sessions')} (id, tenant, created_at) VALUES ($1, $2, $3)`, [session.id, tenant, session.created_at]);
    return session;
  }

  async getSession(id: string, tenant: string): Promise<SessionState | null> {
    // One statement: the session, its messages and its due turns as they were at one moment.
    const result = await this.query<SessionRow>(
      `SELECT s.id, s.tenant, s.created_at,
         (SELECT coalesce(json_agg(json_build_array(m.message, m.created_at, m.job_id) ORDER BY m.position), '[]')
            FROM ${this.table('session_messages')} m WHERE m.session_id = s.id) AS messages,
         (SELECT coalesce(json_agg(p.job_id ORDER BY p.created_at, p.job_id), '[]')
            FROM ${this.table('session_pending')} p WHERE p.session_id = s.id) AS pending
       FROM ${this.table('sessions')} s WHERE s.id = $1 AND s.tenant = $2`,
      [id, tenant],
    );
    const row = result.rows[0];
    if (!row) return null;
    return {
      id: row.id,
      tenant: row.tenant,
      created_at: Number(row.created_at),
      messages: row.messages.map(([message, createdAt, jobId]) => ({ message: JSON.parse(message) as ChatMessage, created_at: Number(createdAt), job_id: jobId })),
      pending: row.pending,
    };
  }

  deleteSession(id: string, tenant: string): Promise<boolean> {
    return this.transaction(async (client) => {
      const deleted = await client.query(`DELETE FROM ${this.table('sessions')} WHERE id = $1 AND tenant = $2`, [id, tenant]);
      if (!deleted.rowCount) return false;
      await client.query(`DELETE FROM ${this.table('session_messages')} WHERE session_id = $1`, [id]);
      await client.query(`DELETE FROM ${this.table('session_pending')} WHERE session_id = $1`, [id]);
      return true;
    });
  }

  async expectTurn(sessionId: string, tenant: string, jobId: string): Promise<boolean> {
    const result = await this.query<{ found: number }>(
      `WITH session AS (SELECT id FROM ${this.table('sessions')} WHERE id = $1 AND tenant = $2),
         noted AS (INSERT INTO ${this.table('session_pending')} (session_id, job_id, created_at) SELECT id, $3, $4 FROM session ON CONFLICT DO NOTHING)
       SELECT count(*)::int AS found FROM session`,
      [sessionId, tenant, jobId, nowSeconds()],
    );
    return result.rows[0].found > 0;
  }

  async appendTurn(sessionId: string, tenant: string, jobId: string, messages: TurnMessage[]): Promise<boolean> {
    if (messages.length === 0) {
      await this.query(
        `DELETE FROM ${this.table('session_pending')} WHERE session_id = $1 AND job_id = $2
           AND EXISTS (SELECT 1 FROM ${this.table('sessions')} WHERE id = $1 AND tenant = $3)`,
        [sessionId, jobId, tenant],
      );
      return false;
    }
    return this.transaction(async (client) => {
      // The session row's lock puts concurrent turns of one session in line, in commit order.
      const session = await client.query(`SELECT 1 FROM ${this.table('sessions')} WHERE id = $1 AND tenant = $2 FOR UPDATE`, [sessionId, tenant]);
      if (!session.rowCount) return false;
      await client.query(`DELETE FROM ${this.table('session_pending')} WHERE session_id = $1 AND job_id = $2`, [sessionId, jobId]);
      const seen = await client.query(`SELECT 1 FROM ${this.table('session_messages')} WHERE session_id = $1 AND job_id = $2 LIMIT 1`, [sessionId, jobId]);
      if (seen.rowCount) return false;
      const last = await client.query<{ position: number }>(
        `SELECT coalesce(max(position), 0) AS position FROM ${this.table('session_messages')} WHERE session_id = $1`,
        [sessionId],
      );
      const start = last.rows[0].position;
      const values: unknown[] = [];
      const tuples = messages.map((turn, index) => {
        values.push(sessionId, start + index + 1, jobId, JSON.stringify(turn.message), turn.created_at);
        const base = index * 5;
        return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5})`;
      });
      await client.query(`INSERT INTO ${this.table('session_messages')} (session_id, position, job_id, message, created_at) VALUES ${tuples.join(', ')}`, values);
      return true;
    });
  }

  async putJob(tenant: string, job: JobObject): Promise<void> {
    await this.query(
      `INSERT INTO ${this.table('jobs')} (id, tenant, status, created_at, job) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, job = excluded.job`,
      [job.id, tenant, job.status, job.created_at, JSON.stringify(job)],
    );
  }

  async getJob(id: string, tenant: string): Promise<JobObject | null> {
    const result = await this.query<{ job: string }>(`SELECT job FROM ${this.table('jobs')} WHERE id = $1 AND tenant = $2`, [id, tenant]);
    return result.rows[0] ? (JSON.parse(result.rows[0].job) as JobObject) : null;
  }

  async recordUsage(usage: UsageRecord): Promise<void> {
    await this.query(
      `INSERT INTO ${this.table('usage')} (job_id, tenant, model, prompt_tokens, completion_tokens, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (job_id) DO NOTHING`,
      [usage.jobId, usage.tenant, usage.model, usage.promptTokens, usage.completionTokens, nowSeconds()],
    );
  }

  async usage(tenant: string): Promise<UsageTotal[]> {
    const result = await this.query<{ model: string; jobs: string; prompt_tokens: string; completion_tokens: string }>(
      `SELECT model, count(*) AS jobs, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens
       FROM ${this.table('usage')} WHERE tenant = $1 GROUP BY model ORDER BY model`,
      [tenant],
    );
    return result.rows.map((row) => ({
      model: row.model,
      jobs: Number(row.jobs),
      prompt_tokens: Number(row.prompt_tokens),
      completion_tokens: Number(row.completion_tokens),
    }));
  }

  async recordSpend(spend: SpendRecord): Promise<void> {
    await this.query(
      `INSERT INTO ${this.table('job_spend')} (job_id, tenant, month, cost_nano_usd, requests, prompt_tokens, completion_tokens, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (job_id) DO UPDATE SET month = excluded.month, cost_nano_usd = excluded.cost_nano_usd, requests = excluded.requests,
         prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens`,
      [spend.jobId, spend.tenant, spend.month, spend.costNanoUsd, spend.requests, spend.promptTokens, spend.completionTokens, nowSeconds()],
    );
  }

  async spend(tenant: string, month: string): Promise<SpendTotal> {
    const result = await this.query<{ cost: string; requests: string; prompt: string; completion: string }>(
      `SELECT coalesce(sum(cost_nano_usd), 0) AS cost, coalesce(sum(requests), 0) AS requests,
         coalesce(sum(prompt_tokens), 0) AS prompt, coalesce(sum(completion_tokens), 0) AS completion
       FROM ${this.table('job_spend')} WHERE tenant = $1 AND month = $2`,
      [tenant, month],
    );
    const row = result.rows[0];
    return { costNanoUsd: Number(row.cost), requests: Number(row.requests), promptTokens: Number(row.prompt), completionTokens: Number(row.completion) };
  }

  async prune(before: number): Promise<PruneResult> {
    const jobs = this.table('jobs');
    const usage = this.table('usage');
    const spend = this.table('job_spend');
    const sessions = this.table('sessions');
    return {
      jobs: await this.deleteInBatches(`DELETE FROM ${jobs} WHERE id IN (SELECT id FROM ${jobs} WHERE created_at < $1 LIMIT ${PRUNE_BATCH_SIZE})`, before),
      usage:
        (await this.deleteInBatches(`DELETE FROM ${usage} WHERE job_id IN (SELECT job_id FROM ${usage} WHERE recorded_at < $1 LIMIT ${PRUNE_BATCH_SIZE})`, before)) +
        (await this.deleteInBatches(
          `DELETE FROM ${spend} WHERE job_id IN (SELECT job_id FROM ${spend} WHERE recorded_at < $1 AND month < '${currentMonth()}' LIMIT ${PRUNE_BATCH_SIZE})`,
          before,
        )),
      sessions: await this.deleteInBatches(
        `DELETE FROM ${sessions} WHERE id IN (
           SELECT id FROM ${sessions} s WHERE created_at < $1
             AND NOT EXISTS (SELECT 1 FROM ${this.table('session_messages')} m WHERE m.session_id = s.id AND m.created_at >= $1)
             AND NOT EXISTS (SELECT 1 FROM ${this.table('session_pending')} p WHERE p.session_id = s.id AND p.created_at >= $1)
           LIMIT ${PRUNE_BATCH_SIZE} FOR UPDATE SKIP LOCKED
         ) RETURNING id`,
        before,
        async (client, ids) => {
          await client.query(`DELETE FROM ${this.table('session_messages')} WHERE session_id = ANY($1)`, [ids]);
          await client.query(`DELETE FROM ${this.table('session_pending')} WHERE session_id = ANY($1)`, [ids]);
        },
      ),
    };
  }

  /** Runs a batch-limited DELETE until a batch comes back short; `alongside` runs in its transaction with the ids it returned. */
  private async deleteInBatches(sql: string, before: number, alongside?: (client: pg.PoolClient, ids: string[]) => Promise<void>): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.transaction(async (client) => {
        const result = await client.query<{ id: string }>(sql, [before]);
        if (alongside) await alongside(client, result.rows.map((row) => row.id));
        return result.rowCount ?? 0;
      });
      total += deleted;
      if (deleted < PRUNE_BATCH_SIZE) return total;
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
