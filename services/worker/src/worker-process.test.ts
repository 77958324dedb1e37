import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { REDIS_URL, deletePrefix, silentLogger, testConfig } from '../../../test/support/stack.js';
import { createWorkerProcess } from './worker-process.js';

describe('createWorkerProcess', () => {
  const admin = new Redis(REDIS_URL);
  const dir = mkdtempSync(join(tmpdir(), 'spool-worker-process-'));
  afterAll(async () => {
    await admin.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs its workers once started, and closes every connection it opened', async () => {
    const config = testConfig({ SPOOL_STORE_URL: `sqlite:${join(dir, 'spool.db')}`, SPOOL_METRICS_PORT: '0' });
    const open = async () => ((await admin.client('LIST')) as string).split('\n').filter((line) => line.includes(config.prefix)).length;
    const worker = createWorkerProcess({ config, logger: silentLogger });
    expect(() => worker.chat).toThrow(/not started/);
    await worker.start();
    expect(worker.chat.worker.isRunning()).toBe(true);
    expect(worker.webhooks.worker.isRunning()).toBe(true);
    expect(await open()).toBeGreaterThan(0);
    await worker.close();
    await expect.poll(open).toBe(0);
    await deletePrefix(config.prefix);
  });
});
