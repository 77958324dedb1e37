import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { createKeys } from '@spool/queue';
import { deletePrefix, REDIS_URL } from '../support/stack.js';
import { getJson, postJson, readEvents } from '../support/http.js';
import { startApiProcess, startSimulatorProcess, startWorkerProcess, type Child } from '../support/processes.js';
import { Receiver } from '../support/receiver.js';

describe('webhooks across real processes', () => {
  const prefix = `test-${randomUUID().slice(0, 12)}`;
  const children: Child[] = [];
  const receiver = new Receiver();
  let env: Record<string, string>;
  let api: string;

  beforeAll(async () => {
    await receiver.listen();
    const simulator = await startSimulatorProcess({ SIMULATOR_TTFT_MS: '0', SIMULATOR_TOKENS_PER_SECOND: '100' });
    children.push(simulator.child);
    // No SPOOL_WEBHOOK_SECRET: the first worker makes one, and every later one must sign with it.
    env = { REDIS_URL, SPOOL_PREFIX: prefix, OPENAI_BASE_URL: simulator.url, SPOOL_LOCK_MS: '1500', SPOOL_BACKOFF_MS: '50', SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true', SPOOL_WEBHOOK_BACKOFF_MS: '100' };
    const started = await startApiProcess(env);
    children.push(started.child);
    api = started.url;
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop('SIGTERM')));
    await receiver.close();
    await deletePrefix(prefix);
  });

  it('delivers exactly one signed event when the worker running the job is killed with SIGKILL', async () => {
    const doomed = await startWorkerProcess(env);
    children.push(doomed);
    const url = receiver.on('/crash');
    const job = (await postJson(`${api}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim tokens=150 tps=50]] crash' }], webhook: { url } })).body;
    const early = await readEvents(`${api}${job.stream_url}`, { limit: 6 });
    expect(early.some((event) => event.event === 'delta')).toBe(true);
    await doomed.stop('SIGKILL');
    expect(receiver.at('/crash')).toHaveLength(0);

    const survivor = await startWorkerProcess(env);
    children.push(survivor);
    const [request] = await receiver.waitFor('/crash', 1, 30_000);
    const redis = new Redis(REDIS_URL);
    const secret = await redis.get(createKeys(prefix).webhookSecret());
    await redis.quit();
    const event = new Webhook(secret!).verify(request.body, {
      'webhook-id': request.headers['webhook-id'] as string,
      'webhook-timestamp': request.headers['webhook-timestamp'] as string,
      'webhook-signature': request.headers['webhook-signature'] as string,
    }) as any;
    expect(event.type).toBe('job.succeeded');
    expect(event.data).toMatchObject({ id: job.id, status: 'succeeded', attempts: 2 });
    expect(event.data).toEqual((await getJson(`${api}/v1/jobs/${job.id}`)).body);

    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(receiver.at('/crash')).toHaveLength(1);
    expect((await getJson(`${api}/v1/jobs/${job.id}/deliveries`)).body.data).toMatchObject([{ attempt: 1, status_code: 200, error: null }]);
    await survivor.stop('SIGTERM');
  }, 60_000);
});
