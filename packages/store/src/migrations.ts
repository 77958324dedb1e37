/**
 * The schema, one entry per version, in SQL both SQLite and PostgreSQL take. `table` names a
 * table as the backend wants it (PostgreSQL qualifies it with its schema). A version, once
 * released, never changes: a change is a new entry.
 */
export function migrations(table: (name: string) => string): string[][] {
  return [
    [
      `CREATE TABLE ${table('sessions')} (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      `CREATE TABLE ${table('session_messages')} (
        session_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        job_id TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, position)
      )`,
      `CREATE INDEX session_messages_job ON ${table('session_messages')} (session_id, job_id)`,
      `CREATE TABLE ${table('session_pending')} (
        session_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, job_id)
      )`,
      `CREATE TABLE ${table('jobs')} (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        job TEXT NOT NULL
      )`,
      `CREATE INDEX jobs_tenant ON ${table('jobs')} (tenant, created_at)`,
      `CREATE TABLE ${table('usage')} (
        job_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        recorded_at BIGINT NOT NULL
      )`,
      `CREATE INDEX usage_tenant ON ${table('usage')} (tenant, model)`,
    ],
    // Retention: pruning finds old rows by age.
    [
      `CREATE INDEX jobs_created ON ${table('jobs')} (created_at)`,
      `CREATE INDEX usage_recorded ON ${table('usage')} (recorded_at)`,
      `CREATE INDEX sessions_created ON ${table('sessions')} (created_at)`,
    ],
    // Spend: each ended job's cost, for its tenant's monthly budget to outlive a Redis loss.
    [
      `CREATE TABLE ${table('job_spend')} (
        job_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        month TEXT NOT NULL,
        cost_nano_usd BIGINT NOT NULL,
        requests BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        recorded_at BIGINT NOT NULL
      )`,
      `CREATE INDEX job_spend_tenant_month ON ${table('job_spend')} (tenant, month)`,
      `CREATE INDEX job_spend_recorded ON ${table('job_spend')} (recorded_at)`,
    ],
  ];
}
