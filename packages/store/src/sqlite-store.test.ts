import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { JobObject } from '@spool/contracts';
import { createStore, sqlitePath } from './create-store.js';
import { SqliteStore } from './sqlite-store.js';
import { StoreError } from './store.js';
import { storeContractTests } from './store-contract-tests.js';
import { tempSqliteFile } from './test-support.js';

storeContractTests('SQLite', async () => {
  const file = tempSqliteFile();
  return { open: () => new SqliteStore({ path: file.path }), cleanup: async () => file.remove() };
});

describe('SQLite store', () => {
  it('creates its folder on first start and runs in WAL mode', async () => {
    const file = tempSqliteFile();
    try {
      expect(existsSync(dirname(file.path))).toBe(false);
      const store = createStore(file.url);
      expect(store).toBeInstanceOf(SqliteStore);
      await store.ping();
      await store.close();
      const db = new Database(file.path, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      db.close();
    } finally {
      file.remove();
    }
  });

  it('of the writes of one turn (committed together), one that fails fails alone and the others are kept', async () => {
    const file = tempSqliteFile();
    const store = new SqliteStore({ path: file.path });
    try {
      const job = { id: 'job_batched', object: 'job', status: 'succeeded', model: 'm', created_at: 1, started_at: 1, finished_at: 2, attempts: 1, priority: 5 } as JobObject;
      const usage = { tenant: 'acme', jobId: 'job_batched', model: 'm', promptTokens: 9, completionTokens: 1 };
      // No model: the usage table's NOT NULL refuses this row, and only this one.
      const refused = { ...usage, jobId: 'job_refused', model: null as unknown as string };
      const results = await Promise.allSettled([store.putJob('acme', job), store.recordUsage(refused), store.recordUsage(usage)]);
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
      expect(await store.getJob('job_batched', 'acme')).toEqual(job);
      expect(await store.usage('acme')).toEqual([{ model: 'm', jobs: 1, prompt_tokens: 9, completion_tokens: 1 }]);
    } finally {
      await store.close();
      file.remove();
    }
  });

  it('reads SPOOL_STORE_URL forms', () => {
    expect(sqlitePath('sqlite:./data/spool.db')).toBe('./data/spool.db');
    expect(sqlitePath('sqlite:///var/lib/spool.db')).toBe('/var/lib/spool.db');
    expect(sqlitePath('sqlite::memory:')).toBe(':memory:');
    expect(() => sqlitePath('sqlite:')).toThrow(StoreError);
    expect(() => createStore('mysql://localhost/spool')).toThrow(StoreError);
  });
});
