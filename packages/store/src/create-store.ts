import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import { StoreError, type Store } from './store.js';

export interface CreateStoreOptions {
  /** PostgreSQL only: the schema of Spool's tables (default `spool`) */
  schema?: string;
  /** PostgreSQL only: an idle pooled connection broke */
  onError?: (error: Error) => void;
}

/** `sqlite:./data/spool.db`, `sqlite:///abs/path.db` and `sqlite::memory:` name a SQLite file. */
export function sqlitePath(url: string): string {
  const rest = url.slice('sqlite:'.length);
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (!path) throw new StoreError('SPOOL_STORE_URL names no SQLite file (sqlite:./data/spool.db)');
  return path;
}

/** The store SPOOL_STORE_URL names: `sqlite:<path>` (the default) or `postgres://...`. */
export function createStore(url: string, options: CreateStoreOptions = {}): Store {
  if (url.startsWith('sqlite:')) return new SqliteStore({ path: sqlitePath(url) });
  if (/^postgres(ql)?:\/\//.test(url)) return new PostgresStore({ url, schema: options.schema, onError: options.onError });
  throw new StoreError('SPOOL_STORE_URL must start with sqlite: or postgres://');
}
