import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { createKeys } from '@spool/queue';
import { WebhookWorker } from '@spool/worker';
import { REDIS_URL, deletePrefix, silentLogger, testConfig } from '../support/stack.js';
import { Receiver, type Received } from '../support/receiver.js';

const headersOf = (request: Received) => ({
  'webhook-id': request.headers['webhook-id'] as string,
  'webhook-timestamp': request.headers['webhook-timestamp'] as string,
  'webhook-signature': request.headers['webhook-signature'] as string,
});

describe('the stored webhook secret after a Redis loss', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('is the one every process signs with, even one that knew the lost secret', async () => {
    const config = testConfig({ SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true' });
    const key = createKeys(config.prefix).webhookSecret();
    const redis = new Redis(REDIS_URL);
    const receiver = new Receiver();
    await receiver.listen();
    cleanups.push(async () => {
      await receiver.close();
      await deletePrefix(config.prefix);
      await redis.quit();
    });

    const first = new WebhookWorker({ config, logger: silentLogger });
    cleanups.push(() => first.close());
    await first.waitUntilReady();
    const lost = await redis.get(key);
    expect(lost).toMatch(/^whsec_/);

    // Redis loses its data; a process starting now makes (and stores) a new secret.
    await redis.del(key);
    const second = new WebhookWorker({ config, logger: silentLogger });
    cleanups.push(() => second.close());
    await second.waitUntilReady();
    const stored = await redis.get(key);
    expect(stored).toMatch(/^whsec_/);
    expect(stored).not.toBe(lost);

    // Each process delivers one event while the other is paused.
    const url = receiver.on('/hook');
    await second.worker.pause();
    await first.send({ ownerId: 'job_from_first', url, type: 'job.succeeded', timestamp: 1, data: {} });
    await receiver.waitFor('/hook', 1);
    await first.worker.pause();
    second.worker.resume();
    await second.send({ ownerId: 'job_from_second', url, type: 'job.succeeded', timestamp: 2, data: {} });
    const requests = await receiver.waitFor('/hook', 2);

    expect(requests.map((request) => request.headers['webhook-id'])).toEqual(['wh_job_from_first', 'wh_job_from_second']);
    const verifier = new Webhook(stored!);
    for (const request of requests) expect(() => verifier.verify(request.body, headersOf(request))).not.toThrow();
    expect(await redis.get(key)).toBe(stored);
  });
});
