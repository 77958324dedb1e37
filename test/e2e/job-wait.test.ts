import { describe, expect, it } from 'vitest';
import { ApiServer } from '@spool/api';
import { simulateReply } from '@spool/simulator';
import { silentLogger, useStack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';

const messages = (content: string) => [{ role: 'user', content }];

/** Polls `condition` until it holds, failing after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('GET /v1/jobs/{id}?wait with a worker', () => {
  const stack = useStack({ simulator: { tokensPerSecond: 200 } });

  it('answers 200 with the finished job as soon as it ends', async () => {
    const content = '[[sim ttft=300 tokens=8]] wait for me';
    const submitted = (await postJson(`${stack.url}/v1/jobs`, { messages: messages(content) })).body;
    expect(submitted.status).toBe('queued');
    const response = await getJson(`${stack.url}/v1/jobs/${submitted.id}?wait=30`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: submitted.id, status: 'succeeded' });
    expect(response.body.result.content).toBe(simulateReply({ model: 'gpt-4o-mini', messages: messages(content) }).content);
  });
});

describe('GET /v1/jobs/{id}?wait', () => {
  const stack = useStack({ workers: 0, env: { SPOOL_API_KEYS: 'alice:key-a,bob:key-b' } });
  const alice = { authorization: 'Bearer key-a' };
  const bob = { authorization: 'Bearer key-b' };
  const submit = async (content: string) => (await postJson(`${stack.url}/v1/jobs`, { messages: messages(content) }, alice)).body;

  it('answers after N seconds with the current state when the job has not ended', async () => {
    const job = await submit('never runs');
    const started = Date.now();
    const response = await getJson(`${stack.url}/v1/jobs/${job.id}?wait=1`, alice);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: job.id, status: 'queued' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('answers when the job ends while it waits (here: cancelled)', async () => {
    const job = await submit('cancel me while watched');
    const waiting = getJson(`${stack.url}/v1/jobs/${job.id}?wait=60`, alice);
    await until(() => stack.api.deps.hub.watcherCount > 0);
    expect((await postJson(`${stack.url}/v1/jobs/${job.id}/cancel`, {}, alice)).status).toBe(200);
    const response = await waiting;
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: job.id, status: 'cancelled', error: { code: 'cancelled' } });
  });

  it('answers an ended job at once, and another tenant\'s job with 404', async () => {
    const job = await submit('ended already');
    await postJson(`${stack.url}/v1/jobs/${job.id}/cancel`, {}, alice);
    const response = await getJson(`${stack.url}/v1/jobs/${job.id}?wait=60`, alice);
    expect(response.body.status).toBe('cancelled');
    const other = await getJson(`${stack.url}/v1/jobs/${job.id}?wait=5`, bob);
    expect(other.status).toBe(404);
  });

  it('refuses a wait outside 1..60 with 400 naming wait', async () => {
    const job = await submit('bad waits');
    for (const wait of ['0', '61', 'abc', '1.5', '-3']) {
      const response = await getJson(`${stack.url}/v1/jobs/${job.id}?wait=${wait}`, alice);
      expect(response.status, wait).toBe(400);
      expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param: 'wait' });
    }
  });

  it('answers at once with the current state when its API process begins to stop', async () => {
    const job = await submit('held over a stop');
    const api = new ApiServer({ config: stack.config, logger: silentLogger, store: stack.store });
    const url = await api.listen(0, '127.0.0.1');
    let closed: Promise<void> | undefined;
    try {
      const waiting = getJson(`${url}/v1/jobs/${job.id}?wait=60`, alice);
      await until(() => api.deps.hub.watcherCount > 0);
      closed = api.close();
      const response = await waiting;
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: job.id, status: 'queued' });
    } finally {
      await (closed ?? api.close());
    }
  });
});
