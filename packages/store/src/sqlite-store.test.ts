import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
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

  it('reads SPOOL_STORE_URL forms', () => {
    expect(sqlitePath('sqlite:./data/spool.db')).toBe('./data/spool.db');
    expect(sqlitePath('sqlite:///var/lib/spool.db')).toBe('/var/lib/spool.db');
    expect(sqlitePath('sqlite::memory:')).toBe(':memory:');
    expect(() => sqlitePath('sqlite:')).toThrow(StoreError);
    expect(() => createStore('mysql://localhost/spool')).toThrow(StoreError);
  });
});
