import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The PostgreSQL tests use; each run works in a schema of its own and drops it after. */
export const POSTGRES_TEST_URL = process.env.SPOOL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why the PostgreSQL tests cannot run here, or undefined when PostgreSQL answers at `url`. */
export async function postgresMissing(url = POSTGRES_TEST_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL does not answer at ${new URL(url).host} (${(error as Error).message}); start it, or set SPOOL_TEST_POSTGRES_URL`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function testSchemaName(): string {
  return `spool_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

export async function dropSchema(schema: string, url = POSTGRES_TEST_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A SQLite file under the OS temp folder, and a function removing it with its WAL files. */
export function tempSqliteFile(): { path: string; url: string; remove(): void } {
  const dir = join(tmpdir(), `spool-store-${randomUUID().slice(0, 12)}`);
  const path = join(dir, 'spool.db');
  return { path, url: `sqlite:${path}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
