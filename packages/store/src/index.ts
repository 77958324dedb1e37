export {
  StoreError,
  StoreUnavailableError,
  type Store,
  type Session,
  type SessionMessage,
  type SessionState,
  type TurnMessage,
  type UsageRecord,
  type UsageTotal,
  type SpendRecord,
  type SpendTotal,
  type PruneResult,
} from './store.js';
export { createStore, sqlitePath, type CreateStoreOptions } from './create-store.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
