import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '@spool/api';
import { silentLogger, startStack, useStack } from '../support/stack.js';
import { getJson, postJson, readEvents } from '../support/http.js';

const body = (content: string) => ({ messages: [{ role: 'user', content }] });

describe('per-key rate limit', () => {
  const stack = useStack({ workers: 0, env: { SPOOL_CLIENT_RPM: '4', SPOOL_API_KEYS: 'alice:alice-key-000000000000,bob:bob-key-0000000000000,carol:carol-key-00000000000' } });
  let second: ApiServer;
  let secondUrl: string;
  const alice = { authorization: 'Bearer alice-key-000000000000' };
  const bob = { authorization: 'Bearer bob-key-0000000000000' };
  beforeAll(async () => {
    second = new ApiServer({ config: stack.config, logger: silentLogger });
    secondUrl = await second.listen(0, '127.0.0.1');
  });
  afterAll(async () => second?.close()); // after hooks run in reverse: this one before the stack's close

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

  it('decides a submission while its body is read: its headers when admitted; when refused, 429 whatever is wrong with the body, and nothing recorded', async () => {
    const carol = { authorization: 'Bearer carol-key-00000000000' };
    const admitted = await postJson(`${stack.url}/v1/jobs`, body('first'), carol);
    expect(admitted.status).toBe(202);
    expect(admitted.headers.get('x-ratelimit-remaining-requests')).toBe('3');
    // with room left, an invalid submission is a 400, and it counts
    const invalid = await postJson(`${stack.url}/v1/jobs`, { messages: 'not a list' }, carol);
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    for (let i = 0; i < 2; i++) expect((await getJson(`${stack.url}/v1/jobs`, carol)).status).toBe(200);
    const refusals = [
      await postJson(`${stack.url}/v1/jobs`, body('over the limit'), carol),
      await postJson(`${stack.url}/v1/jobs`, { messages: 'not a list' }, carol),
      await postJson(`${stack.url}/v1/jobs`, '{"not json', carol),
      await postJson(`${stack.url}/v1/chat/completions`, { ...body('over the limit'), stream: true }, carol),
      await postJson(`${stack.url}/v1/chat/completions`, { ...body('over the limit'), n: 2 }, carol),
    ];
    for (const refused of refusals) {
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('rate_limit_exceeded');
      expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    }
    const recorded = await stack.api.deps.jobs.list('carol', { limit: 100 });
    expect(recorded.data.map((job) => job.id)).toEqual([admitted.body.id]);
  });
});

describe('Idempotency-Key', () => {
  const stack = useStack({ workers: 0 });

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

describe('per-tenant quotas', () => {
  const alice = { authorization: 'Bearer alice-key-000000000000' };
  const bob = { authorization: 'Bearer bob-key-0000000000000' };
  const carol = { authorization: 'Bearer carol-key-00000000000' };
  const apiKeys = 'alice:alice-key-000000000000,bob:bob-key-0000000000000,carol:carol-key-00000000000';

  /** A POST that must answer within 5 s (a door call with no worker would otherwise wait for its job). */
  async function post(url: string, payload: unknown, headers: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }> {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(payload), signal: AbortSignal.timeout(5000) });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  function expectQuotaRefusal(response: { status: number; headers: Headers; body: any }, quota: RegExp): void {
    expect(response.status).toBe(429);
    expect(response.body.error).toMatchObject({ type: 'rate_limit_error', code: 'tenant_quota_exceeded' });
    expect(response.body.error.message).toMatch(quota);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }

  it("refuses a tenant's submissions past its quotas on every way in, writing nothing, while another tenant submits; a cancel gives a place back", async () => {
    const stack = await startStack({ workers: 0, env: { SPOOL_API_KEYS: apiKeys, SPOOL_TENANT_MAX_QUEUED: '2', SPOOL_TENANT_MAX_QUEUED_BYTES: '3000' } });
    try {
      const first = await post(`${stack.url}/v1/jobs`, body('one'), alice);
      expect(first.status).toBe(202);
      expect((await post(`${stack.url}/v1/jobs`, body('two'), alice)).status).toBe(202);

      expectQuotaRefusal(await post(`${stack.url}/v1/jobs`, body('three'), alice), /jobs/);
      expectQuotaRefusal(await post(`${stack.url}/v1/jobs`, body('keyed'), { ...alice, 'idempotency-key': 'k-1' }), /jobs/);
      expectQuotaRefusal(await post(`${stack.url}/v1/chat/completions`, { model: 'gpt-4o-mini', ...body('door') }, alice), /jobs/);
      expectQuotaRefusal(await post(`${stack.url}/v1/batches`, { requests: [{ custom_id: 'a', body: body('batched') }] }, alice), /jobs/);
      // nothing of the refused ones was written or enqueued
      expect((await getJson(`${stack.url}/v1/jobs?limit=100`, alice)).body.data).toHaveLength(2);
      expect(await stack.api.deps.redis.zcard(stack.api.deps.keys.tenantWaiting('alice'))).toBe(2); // in line: no worker runs
      expect(await stack.api.deps.queue.count()).toBe(0);
      expect(await stack.api.deps.redis.keys(`${stack.config.prefix}:batch:*`)).toEqual([]);

      expect((await post(`${stack.url}/v1/jobs`, body('bob'), bob)).status).toBe(202);
      expectQuotaRefusal(await post(`${stack.url}/v1/jobs`, body('c'.repeat(3000)), carol), /bytes/);

      expect((await post(`${stack.url}/v1/jobs/${first.body.id}/cancel`, {}, alice)).status).toBe(200);
      expect((await post(`${stack.url}/v1/jobs`, body('keyed'), { ...alice, 'idempotency-key': 'k-1' })).status).toBe(202);
      expectQuotaRefusal(await post(`${stack.url}/v1/jobs`, body('four'), alice), /jobs/);
    } finally {
      await stack.close();
    }
  });

  it('holds the place while a job runs, and gives it back when the job succeeds or fails', async () => {
    const stack = await startStack({ env: { SPOOL_API_KEYS: apiKeys, SPOOL_TENANT_MAX_QUEUED: '1' } });
    try {
      const running = await post(`${stack.url}/v1/jobs`, body('[[sim tokens=10 tps=20]] slow'), alice);
      expect(running.status).toBe(202);
      expectQuotaRefusal(await post(`${stack.url}/v1/jobs`, body('meanwhile'), alice), /jobs/);
      expect((await readEvents(`${stack.url}${running.body.stream_url}`, { headers: alice })).at(-1)!.data).toMatch(/"status":"succeeded"/);
      const statuses = [];
      for (const content of ['[[sim status=400]] refused upstream', '[[sim tokens=3]] ok']) {
        const response = await postJson(`${stack.url}/v1/jobs?wait=20`, body(content), alice);
        statuses.push(response.status === 200 ? response.body.status : response.status);
      }
      expect(statuses).toEqual(['failed', 'succeeded']);
    } finally {
      await stack.close();
    }
  });
});

describe('JSON nesting depth', () => {
  const stack = useStack({ workers: 0 });

  const arrays = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  /** A job request whose field `name` (top level or in `metadata`) holds `levels` nested arrays. */
  const request = (levels: number, name = 'foo') =>
    name === 'metadata.x'
      ? `{"messages":[{"role":"user","content":"hi"}],"metadata":{"x":${arrays(levels)}}}`
      : `{"messages":[{"role":"user","content":"hi"}],"${name}":${arrays(levels)}}`;
  const postJsonl = async (lines: string[]) => {
    const response = await fetch(`${stack.url}/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/jsonl' }, body: lines.join('\n') });
    return { status: response.status, body: await response.json() };
  };
  const jsonlLine = (customId: string, body: string) => `{"custom_id":"${customId}","method":"POST","url":"/v1/chat/completions","body":${body}}`;
  const tooDeep = (param: string) => ({ type: 'invalid_request_error', code: 'json_too_deep', param, message: expect.stringContaining('64 levels') });

  it('refuses a field nested 5,000 deep with a 400 naming it, through every door, and serves on', async () => {
    const job = await postJson(`${stack.url}/v1/jobs`, request(5000));
    expect(job.status).toBe(400);
    expect(job.body.error).toEqual(tooDeep('foo'));
    const inMetadata = await postJson(`${stack.url}/v1/jobs`, request(5000, 'metadata.x'));
    expect(inMetadata.body.error).toEqual(tooDeep('metadata.x'));
    const idempotent = await postJson(`${stack.url}/v1/jobs`, request(5000), { 'idempotency-key': 'deep-1' });
    expect(idempotent.status).toBe(400);
    expect(idempotent.body.error).toEqual(tooDeep('foo'));
    const door = await postJson(`${stack.url}/v1/chat/completions`, request(5000));
    expect(door.status).toBe(400);
    expect(door.body.error).toEqual(tooDeep('foo'));

    const batch = await postJson(`${stack.url}/v1/batches`, `{"requests":[{"custom_id":"a","body":${request(1)}},{"custom_id":"b","body":${request(5000)}}]}`);
    expect(batch.status).toBe(400);
    expect(batch.body.error).toEqual(tooDeep('requests[1].body.foo'));
    const jsonl = await postJsonl([jsonlLine('a', request(1)), jsonlLine('b', request(5000))]);
    expect(jsonl.status).toBe(400);
    expect(jsonl.body.error).toEqual({ ...tooDeep('line 2'), message: expect.stringMatching(/^Line 2: 'body\.foo' .*64 levels/) });

    expect((await postJson(`${stack.url}/v1/jobs`, request(1))).status).toBe(202);
  });

  it('takes a request body nested 64 levels deep, alone or in a batch, and refuses 65', async () => {
    // the body is level 1, so 63 arrays inside it make 64 levels
    expect((await postJson(`${stack.url}/v1/jobs`, request(63))).status).toBe(202);
    expect((await postJson(`${stack.url}/v1/jobs`, request(64))).body.error).toEqual(tooDeep('foo'));
    expect((await postJson(`${stack.url}/v1/batches`, `{"requests":[{"custom_id":"a","body":${request(63)}}]}`)).status).toBe(202);
    expect((await postJson(`${stack.url}/v1/batches`, `{"requests":[{"custom_id":"a","body":${request(64)}}]}`)).body.error).toEqual(tooDeep('requests[0].body.foo'));
    expect((await postJsonl([jsonlLine('a', request(63))])).status).toBe(202);
    expect((await postJsonl([jsonlLine('a', request(64))])).body.error.param).toBe('line 1');
  });
});
