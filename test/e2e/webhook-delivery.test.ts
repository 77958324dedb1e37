import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { createKeys } from '@spool/queue';
import { WebhookWorker } from '@spool/worker';
import { DeliveryLog } from '@spool/webhooks';
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
    await first.send({ ownerId: 'job_from_first', tenant: 'acme', url, type: 'job.succeeded', timestamp: 1, data: {} });
    await receiver.waitFor('/hook', 1);
    await first.worker.pause();
    second.worker.resume();
    await second.send({ ownerId: 'job_from_second', tenant: 'acme', url, type: 'job.succeeded', timestamp: 2, data: {} });
    const requests = await receiver.waitFor('/hook', 2);

    expect(requests.map((request) => request.headers['webhook-id'])).toEqual(['wh_job_from_first', 'wh_job_from_second']);
    const verifier = new Webhook(stored!);
    for (const request of requests) expect(() => verifier.verify(request.body, headersOf(request))).not.toThrow();
    expect(await redis.get(key)).toBe(stored);
  });
});

describe('webhook delivery slots per tenant', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(options: { tenantSlots: number; concurrency: number; timeoutMs: number }) {
    const config = testConfig({ SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true', SPOOL_WEBHOOK_BACKOFF_MS: '50', SPOOL_WEBHOOK_TENANT_CONCURRENCY: String(options.tenantSlots) });
    const receiver = new Receiver();
    await receiver.listen();
    const webhooks = new WebhookWorker({ config, logger: silentLogger, concurrency: options.concurrency, timeoutMs: options.timeoutMs, deferMs: 50 });
    const redis = new Redis(REDIS_URL);
    const deliveries = new DeliveryLog(redis, createKeys(config.prefix));
    cleanups.push(async () => {
      await redis.quit();
      // Hanging requests end first, so the worker's close does not wait out their timeout.
      await receiver.close();
      await webhooks.close();
      await deletePrefix(config.prefix);
    });
    await webhooks.waitUntilReady();
    return { receiver, webhooks, deliveries };
  }

  it("lets another tenant's webhook through while one tenant's receiver never answers", async () => {
    const { receiver, webhooks, deliveries } = await setUp({ tenantSlots: 2, concurrency: 4, timeoutMs: 25_000 });
    const hanging = receiver.on('/never', () => null);
    const ids = Array.from({ length: 12 }, (_, i) => `job_hanging_${i}`);
    for (const ownerId of ids) await webhooks.send({ ownerId, tenant: 'slow', url: hanging, type: 'job.succeeded', timestamp: 1, data: {} });
    await receiver.waitFor('/never', 2);

    await webhooks.send({ ownerId: 'job_prompt', tenant: 'other', url: receiver.on('/ok'), type: 'job.succeeded', timestamp: 1, data: {} });
    await receiver.waitFor('/ok', 1, 20_000);
    // Delivered while every request of the slow tenant still hangs: none of them has ended.
    for (const ownerId of ids) expect(await deliveries.list(ownerId)).toEqual([]);
    expect(receiver.at('/never')).toHaveLength(2);
  }, 40_000);

  it('counts a delivery that waited for its tenant\'s slot as its first attempt', async () => {
    const { receiver, webhooks, deliveries } = await setUp({ tenantSlots: 1, concurrency: 4, timeoutMs: 1500 });
    const url = receiver.on('/first-hangs', (n) => (n === 0 ? null : 200));
    await webhooks.send({ ownerId: 'job_holder', tenant: 'acme', url, type: 'job.succeeded', timestamp: 1, data: {} });
    await receiver.waitFor('/first-hangs', 1);
    const delivered = new Promise<void>((resolve) => webhooks.worker.on('completed', (job) => job.id === 'wh_job_waiting' && resolve()));
    await webhooks.send({ ownerId: 'job_waiting', tenant: 'acme', url, type: 'job.succeeded', timestamp: 1, data: {} });
    await delivered;
    const waited = await webhooks.queue.getJob('wh_job_waiting');
    expect(waited?.data.deferrals).toBeGreaterThan(0);
    const log = await deliveries.list('job_waiting');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ attempt: 1, status_code: 200 });
  }, 20_000);
});
