import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { REDIS_URL, silentLogger, testConfig } from '../../../test/support/stack.js';
import { SpoolWorker } from './worker.js';

describe('SpoolWorker', () => {
  const admin = new Redis(REDIS_URL);
  afterAll(async () => admin.quit());

  it('closes every Redis connection it opened', async () => {
    const config = testConfig();
    // Every connection is named after the prefix: ours as `<prefix>-<role>`, BullMQ's as `<prefix>:<queue>`.
    const open = async () => ((await admin.client('LIST')) as string).split('\n').filter((line) => line.includes(config.prefix)).length;
    const worker = new SpoolWorker({ config, logger: silentLogger });
    await worker.waitUntilReady();
    expect(await open()).toBeGreaterThan(0);
    await worker.close();
    await expect.poll(open).toBe(0);
  });
});
