import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '@spool/api';
import { silentLogger, startStack, type Stack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';

const body = (content: string) => ({ messages: [{ role: 'user', content }] });

describe('per-key rate limit', () => {
  let stack: Stack;
  let second: ApiServer;
  let secondUrl: string;
  const alice = { authorization: 'Bearer alice-key-000000000000' };
  const bob = { authorization: 'Bearer bob-key-0000000000000' };
  beforeAll(async () => {
    stack = await startStack({ workers: 0, env: { SPOOL_CLIENT_RPM: '4', SPOOL_API_KEYS: 'alice:alice-key-000000000000,bob:bob-key-0000000000000' } });
    second = new ApiServer({ config: stack.config, logger: silentLogger });
    secondUrl = await second.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await second?.close();
    await stack?.close();
  });

  it('allows SPOOL_CLIENT_RPM per key across API processes, then answers 429 with retry-after', async () => {
    const statuses: number[] = [];
    for (const url of [stack.url, secondUrl, stack.url, secondUrl]) {
      const response = await getJson(`${url}/v1/jobs`, alice);
      statuses.push(response.status);
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('4');
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    const refused = await getJson(`${secondUrl}/v1/jobs`, alice);
    expect(refused.status).toBe(429);
    expect(refused.body.error.type).toBe('rate_limit_error');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    // another key has its own allowance
    expect((await getJson(`${stack.url}/v1/jobs`, bob)).status).toBe(200);
  });
});

describe('Idempotency-Key', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 0 });
  });
  afterAll(async () => stack?.close());

  it('returns the first job again (200) for the same key and body, 409 for another body', async () => {
    const headers = { 'idempotency-key': 'order-42' };
    const first = await postJson(`${stack.url}/v1/jobs`, body('once'), headers);
    expect(first.status).toBe(202);
    const again = await postJson(`${stack.url}/v1/jobs`, body('once'), headers);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await postJson(`${stack.url}/v1/jobs`, body('twice'), headers);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    const tooLong = await postJson(`${stack.url}/v1/jobs`, body('x'), { 'idempotency-key': 'k'.repeat(256) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.param).toBe('Idempotency-Key');
  });

  it('makes one job of racing requests with one key', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => postJson(`${stack.url}/v1/jobs`, body('race'), { 'idempotency-key': 'race-1' })));
    const ids = new Set(responses.map((response) => response.body.id));
    expect(ids.size).toBe(1);
    expect(responses.filter((response) => response.status === 202)).toHaveLength(1);
    const listed = await getJson(`${stack.url}/v1/jobs?limit=100`);
    expect(listed.body.data.filter((job: { id: string }) => ids.has(job.id))).toHaveLength(1);
  });
});
