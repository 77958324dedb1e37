import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, simulateReply, type Simulator } from '@spool/simulator';
import { createWorkerProcess } from '@spool/worker';
import { createStore } from '@spool/store';
import { measureWatchers } from '../../bench/watchers.js';
import { deletePrefix, REDIS_URL, silentLogger, testConfig } from '../support/stack.js';

const WATCHERS = 5000;
/** Issue 16's bound; what the API process holds per watcher, measured after a full GC. */
const MAX_BYTES_PER_WATCHER = 20 * 1024;

describe('5,000 live watchers of one job on one API process', () => {
  let simulator: Simulator;
  let simulatorUrl: string;
  let dir: string;
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  beforeAll(async () => {
    simulator = createSimulator({ tokensPerSecond: 400, ttftMs: 20 });
    simulatorUrl = await simulator.listen(0);
    dir = mkdtempSync(join(tmpdir(), 'spool-watchers-'));
  });
  afterAll(async () => {
    await simulator?.close();
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  });

  it('gives every watcher the exact text, with at most 20 KB of API memory each and at most 4 Redis connections', { timeout: 120_000 }, async () => {
    // The defaults but for what this needs: keys on, and a per-key rate above 5,000 requests.
    const env = {
      REDIS_URL,
      SPOOL_PREFIX: prefix,
      SPOOL_STORE_URL: `sqlite:${join(dir, 'spool.db')}`,
      SPOOL_API_KEYS: 'watchers:key-w',
      SPOOL_CLIENT_RPM: '1000000',
      OPENAI_BASE_URL: simulatorUrl,
      OPENAI_API_KEY: 'unused',
    };
    const prompt = '[[sim tokens=60]] one job, many watchers';
    const result = await measureWatchers({
      redisUrl: REDIS_URL,
      env,
      apiKey: 'key-w',
      watchers: WATCHERS,
      prompt,
      log: (line) => console.log(`watchers: ${line}`),
      // The worker starts once every watcher is connected and measured (its connections would share the API's names).
      startWorker: async () => {
        const config = testConfig({ ...env, SPOOL_METRICS_PORT: '0' });
        const store = createStore(config.storeUrl);
        const worker = createWorkerProcess({ config, logger: silentLogger, store });
        await worker.start();
        return async () => {
          await worker.close();
          await store.close();
        };
      },
    });
    expect(result.failures).toEqual([]);
    expect(result.exact).toBe(WATCHERS);
    const expected = simulateReply({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }).content;
    expect(result.content).toBe(expected);
    expect(result.redisConnections.length).toBeGreaterThan(0);
    expect(result.redisConnections.length).toBeLessThanOrEqual(4);
    expect(result.bytesPerWatcher).toBeLessThanOrEqual(MAX_BYTES_PER_WATCHER);
  });
});
