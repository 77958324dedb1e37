import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { createKeys } from '@spool/queue';
import { parseJobRecord } from '@spool/jobs';
import { REDIS_URL, startStack, type Stack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';
import { Receiver, type Received } from '../support/receiver.js';

// Every webhook here goes to a receiver on 127.0.0.1; refusals use loopback forms only.
const messages = (content: string) => [{ role: 'user', content }];

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('webhooks', () => {
  let stack: Stack;
  let receiver: Receiver;
  let verifier: Webhook;
  const deliveries = (jobId: string) => getJson(`${stack.url}/v1/jobs/${jobId}/deliveries`).then((response) => response.body);

  function verify(request: Received): any {
    return verifier.verify(request.body, {
      'webhook-id': request.headers['webhook-id'] as string,
      'webhook-timestamp': request.headers['webhook-timestamp'] as string,
      'webhook-signature': request.headers['webhook-signature'] as string,
    });
  }

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.listen();
    // No SPOOL_WEBHOOK_SECRET: the worker makes one and stores it in Redis.
    stack = await startStack({ env: { SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true', SPOOL_WEBHOOK_BACKOFF_MS: '50' }, webhookTimeoutMs: 300 });
    const redis = new Redis(REDIS_URL);
    const secret = await redis.get(createKeys(stack.config.prefix).webhookSecret());
    await redis.quit();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    verifier = new Webhook(secret!);
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('POSTs a signed job.succeeded event with the job object once the job ends, and logs the attempt', async () => {
    const url = receiver.on('/ok');
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=5]] hook me'), webhook: { url } })).body;
    expect(job.status).toBe('succeeded');
    const [request] = await receiver.waitFor('/ok');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-id']).toBe(`wh_${job.id}`);
    expect(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    const event = verify(request);
    expect(event).toEqual({ type: 'job.succeeded', timestamp: job.finished_at, data: job });

    const log = await until(() => deliveries(job.id), (body) => body.data.length > 0);
    expect(log.object).toBe('list');
    expect(log.data).toHaveLength(1);
    expect(log.data[0]).toMatchObject({ attempt: 1, status_code: 200, error: null });
    expect(Object.keys(log.data[0]).sort()).toEqual(['at', 'attempt', 'duration_ms', 'error', 'status_code']);
    expect(log.data[0].duration_ms).toBeGreaterThanOrEqual(0);
    expect(Math.abs(log.data[0].at - Date.now() / 1000)).toBeLessThan(10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.at('/ok')).toHaveLength(1);
  });

  it('retries a 500 with backoff and the same webhook-id until a 2xx', async () => {
    const url = receiver.on('/flaky', (n) => (n === 0 ? 500 : 200));
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('[[sim tokens=3]] flaky'), webhook: { url } })).body;
    const requests = await receiver.waitFor('/flaky', 2);
    expect(requests.map((request) => request.headers['webhook-id'])).toEqual([`wh_${job.id}`, `wh_${job.id}`]);
    expect(requests[1].body).toBe(requests[0].body);
    for (const request of requests) expect(verify(request).type).toBe('job.succeeded');
    expect(requests[1].at - requests[0].at).toBeGreaterThanOrEqual(40);
    const log = await until(() => deliveries(job.id), (body) => body.data.length >= 2);
    expect(log.data.map((entry: any) => [entry.attempt, entry.status_code])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    expect(log.data[0].error).toBe('HTTP 500');
    expect(log.data[1].error).toBeNull();
  });

  it('stops at once on 410 Gone', async () => {
    const url = receiver.on('/gone', () => 410);
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('[[sim tokens=3]] gone'), webhook: { url } })).body;
    await receiver.waitFor('/gone');
    await new Promise((resolve) => setTimeout(resolve, 800)); // many backoffs of 50 ms
    expect(receiver.at('/gone')).toHaveLength(1);
    const log = await deliveries(job.id);
    expect(log.data).toHaveLength(1);
    expect(log.data[0]).toMatchObject({ attempt: 1, status_code: 410 });
  });

  it('counts no answer within the timeout as a failed attempt with no status, and retries it', async () => {
    const url = receiver.on('/silent', (n) => (n < 2 ? null : 204));
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('[[sim tokens=3]] silent'), webhook: { url } })).body;
    await receiver.waitFor('/silent', 3);
    const log = await until(() => deliveries(job.id), (body) => body.data.length >= 3);
    expect(log.data.map((entry: any) => entry.status_code)).toEqual([null, null, 204]);
    expect(log.data[0].error).toBe('timeout: no answer in 300 ms');
    expect(log.data[0].duration_ms).toBeGreaterThanOrEqual(290);
    expect(new Set(receiver.at('/silent').map((request) => request.headers['webhook-id']))).toEqual(new Set([`wh_${job.id}`]));
  });

  it('sends job.failed and job.cancelled with the job as it ended', async () => {
    const failedUrl = receiver.on('/failed');
    const failed = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim status=400]] bad'), webhook: { url: failedUrl } })).body;
    expect(failed.status).toBe('failed');
    expect(verify((await receiver.waitFor('/failed'))[0])).toMatchObject({ type: 'job.failed', data: { id: failed.id, status: 'failed' } });

    const cancelledUrl = receiver.on('/cancelled');
    const slow = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('[[sim ttft=20000]] slow'), webhook: { url: cancelledUrl } })).body;
    const cancelled = (await postJson(`${stack.url}/v1/jobs/${slow.id}/cancel`, {})).body;
    const event = verify((await receiver.waitFor('/cancelled'))[0]);
    expect(event).toEqual({ type: 'job.cancelled', timestamp: cancelled.finished_at, data: cancelled });
  });

  it('enqueues one delivery however often the outbox replays the ended job', async () => {
    const url = receiver.on('/replayed', () => 202);
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=3]] replay'), webhook: { url } })).body;
    await receiver.waitFor('/replayed');
    // The outbox is at-least-once: run the handler again, as a reclaimed entry would, many times.
    const record = parseJobRecord((await stack.api.deps.jobs.get(job.id))!);
    for (let i = 0; i < 5; i++) await stack.webhooks[0].onJobEnded(job, record);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.at('/replayed')).toHaveLength(1);
    expect((await deliveries(job.id)).data).toHaveLength(1);
  });

  it('answers 404 for the deliveries of an unknown job, and an empty list for a job without a webhook', async () => {
    expect((await getJson(`${stack.url}/v1/jobs/job_doesnotexistdoesnotexist1/deliveries`)).status).toBe(404);
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=3]] no hook') })).body;
    expect((await getJson(`${stack.url}/v1/jobs/${job.id}/deliveries`)).body).toEqual({ object: 'list', data: [] });
  });
});

describe('webhook URLs without SPOOL_WEBHOOK_ALLOW_PRIVATE', () => {
  let stack: Stack;
  const alice = { authorization: 'Bearer alice-key-0000000000000' };
  const bob = { authorization: 'Bearer bob-key-00000000000000' };
  beforeAll(async () => {
    stack = await startStack({ workers: 0, env: { SPOOL_API_KEYS: 'alice:alice-key-0000000000000,bob:bob-key-00000000000000' } });
  });
  afterAll(async () => stack?.close());

  it('refuses loopback URLs in every notation, and non-http schemes, with 400 webhook.url and enqueues nothing', async () => {
    const refused = [
      'http://127.0.0.1:9/hook',
      'http://localhost:9/hook',
      'http://[::1]:9/hook',
      'http://[::ffff:127.0.0.1]:9/hook',
      'http://2130706433:9/hook',
      'http://0177.0.0.1:9/hook',
      'http://0x7f.1:9/hook',
      'http://127.1:9/hook',
      'http://0.0.0.0:9/hook',
      'ftp://127.0.0.1/hook',
      'file:///etc/passwd',
      'not a url',
    ];
    for (const url of refused) {
      const response = await postJson(`${stack.url}/v1/jobs`, { messages: messages('x'), webhook: { url } }, alice);
      expect(response.status, url).toBe(400);
      expect(response.body.error, url).toMatchObject({ type: 'invalid_request_error', param: 'webhook.url' });
    }
    // A name's resolved addresses are not told back to the client.
    const named = await postJson(`${stack.url}/v1/jobs`, { messages: messages('x'), webhook: { url: 'http://localhost:9/' } }, alice);
    expect(named.body.error.message).toMatch(/localhost' resolves to a loopback address/);
    expect(named.body.error.message).not.toMatch(/127\.0\.0\.1|::1/);
    const missing = await postJson(`${stack.url}/v1/jobs`, { messages: messages('x'), webhook: {} }, alice);
    expect(missing.body.error.param).toBe('webhook.url');
    expect((await getJson(`${stack.url}/v1/jobs`, alice)).body.data).toEqual([]);
    expect(await stack.api.deps.queue.count()).toBe(0);
  });

  it('keeps deliveries to the tenant that owns the job', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('mine') }, alice)).body;
    expect((await getJson(`${stack.url}/v1/jobs/${job.id}/deliveries`, alice)).status).toBe(200);
    const other = await getJson(`${stack.url}/v1/jobs/${job.id}/deliveries`, bob);
    expect(other.status).toBe(404);
    expect(other.body.error.type).toBe('invalid_request_error');
  });
});
