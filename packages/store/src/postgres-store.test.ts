import { describe, expect, it } from 'vitest';
import { createStore } from './create-store.js';
import { PostgresStore } from './postgres-store.js';
import { StoreUnavailableError } from './store.js';
import { storeContractTests } from './store-contract-tests.js';
import { dropSchema, postgresMissing, POSTGRES_TEST_URL, testSchemaName } from './test-support.js';
import { skipWhenMissing } from '../../../test/support/skip-when-missing.js';

describe('PostgreSQL', skipWhenMissing(await postgresMissing()), () => {
  storeContractTests('PostgreSQL', async () => {
    const schema = testSchemaName();
    return { open: () => new PostgresStore({ url: POSTGRES_TEST_URL, schema }), cleanup: () => dropSchema(schema) };
  });

  it('is what a postgres:// SPOOL_STORE_URL makes', async () => {
    const schema = testSchemaName();
    const store = createStore(POSTGRES_TEST_URL, { schema });
    try {
      expect(store).toBeInstanceOf(PostgresStore);
      await store.ping();
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });
});

describe('PostgreSQL store that cannot be reached', () => {
  it('says it is unavailable, so callers can answer 503 and retry', async () => {
    const store = new PostgresStore({ url: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 500 });
    try {
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.createSession('acme')).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
