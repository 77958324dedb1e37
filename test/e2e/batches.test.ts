import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { simulateReply } from '@spool/simulator';
import { startStack, type Stack } from '../support/stack.js';
import { getJson, postJson } from '../support/http.js';
import { Receiver } from '../support/receiver.js';

const alice = { authorization: 'Bearer alice-key-0000000000000' };
const bob = { authorization: 'Bearer bob-key-00000000000000' };
const carol = { authorization: 'Bearer carol-key-000000000000' };
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const messages = (content: string) => [{ role: 'user', content }];
const reply = (content: string) => simulateReply({ model: 'gpt-4o-mini', messages: messages(content) }).content;

async function postText(url: string, body: string | Buffer, contentType: string, headers: Record<string, string> = alice) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

async function results(url: string, headers = alice): Promise<any[]> {
  const response = await fetch(url, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/jsonl/);
  const text = await response.text();
  return text ? text.trimEnd().split('\n').map((line) => JSON.parse(line)) : [];
}

describe('batches', () => {
  let stack: Stack;
  let receiver: Receiver;
  const batchUrl = (id: string, rest = '') => `${stack.url}/v1/batches/${id}${rest}`;

  async function waitForEnd(id: string, timeoutMs = 120_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const batch = (await getJson(batchUrl(id), alice)).body;
      if (batch.status === 'completed' || batch.status === 'cancelled' || Date.now() > deadline) return batch;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.listen();
    stack = await startStack({
      simulator: { tokensPerSecond: 0 },
      env: {
        WORKER_CONCURRENCY: '200',
        // Thousands of jobs on two shared cores: a 2 s lock could lapse and hand a job to a second attempt.
        SPOOL_LOCK_MS: '30000',
        SPOOL_CLIENT_RPM: '100000',
        SPOOL_WEBHOOK_ALLOW_PRIVATE: 'true',
        SPOOL_WEBHOOK_SECRET: SECRET,
        SPOOL_API_KEYS: 'alice:alice-key-0000000000000,bob:bob-key-00000000000000,carol:carol-key-000000000000',
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('runs a 5,000-request JSON batch to completed: counts, one result line per request, batch.completed webhook', async () => {
    const total = 5000;
    const content = (i: number) => `[[sim tokens=3]] request ${i}`;
    const requests = Array.from({ length: total }, (_, i) => ({ custom_id: `req-${i}`, body: { messages: messages(content(i)) } }));
    const hook = receiver.on('/batch-done');
    const response = await postJson(`${stack.url}/v1/batches`, { requests, metadata: { run: 'big' }, webhook: { url: hook } }, alice);
    expect(response.status).toBe(202);
    const created = response.body;
    expect(created.id).toMatch(/^batch_[0-9A-Za-z]{20,}$/);
    expect(response.headers.get('location')).toBe(`/v1/batches/${created.id}`);
    expect(created).toMatchObject({ object: 'batch', status: 'in_progress', request_counts: { total, completed: 0, failed: 0 }, completed_at: null, metadata: { run: 'big' } });
    expect(Object.keys(created).sort()).toEqual(['completed_at', 'cost_usd', 'created_at', 'id', 'metadata', 'mode', 'object', 'request_counts', 'status']);
    expect(created).toMatchObject({ mode: 'live', cost_usd: 0 });

    const finished = await waitForEnd(created.id);
    expect(finished).toMatchObject({ id: created.id, status: 'completed', request_counts: { total, completed: total, failed: 0 } });
    expect(finished.completed_at).toBeGreaterThanOrEqual(created.created_at);

    const lines = await results(batchUrl(created.id, '/results'));
    expect(lines).toHaveLength(total);
    const byCustomId = new Map(lines.map((line) => [line.custom_id, line]));
    expect(byCustomId.size).toBe(total);
    const jobIds = new Set<string>();
    for (let i = 0; i < total; i++) {
      const line = byCustomId.get(`req-${i}`);
      expect(Object.keys(line).sort()).toEqual(['custom_id', 'error', 'job_id', 'result', 'status']);
      expect(line.job_id).toMatch(/^job_[0-9A-Za-z]{20,}$/);
      expect(line.status).toBe('succeeded');
      expect(line.result.content).toBe(reply(content(i)));
      expect(line.result.finish_reason).toBe('stop');
      expect(line.error).toBeNull();
      jobIds.add(line.job_id);
    }
    expect(jobIds.size).toBe(total);

    const sample = (await getJson(`${stack.url}/v1/jobs/${lines[0].job_id}`, alice)).body;
    expect(sample).toMatchObject({ batch_id: created.id, priority: 8, status: 'succeeded' });
    const listed = (await getJson(`${stack.url}/v1/jobs?batch_id=${created.id}&limit=5`, alice)).body;
    expect(listed.data).toHaveLength(5);
    expect(listed.data.every((job: any) => job.batch_id === created.id)).toBe(true);

    const [request] = await receiver.waitFor('/batch-done');
    const event = new Webhook(SECRET).verify(request.body, {
      'webhook-id': request.headers['webhook-id'] as string,
      'webhook-timestamp': request.headers['webhook-timestamp'] as string,
      'webhook-signature': request.headers['webhook-signature'] as string,
    });
    expect(request.headers['webhook-id']).toBe(`wh_${created.id}`);
    expect(event).toEqual({ type: 'batch.completed', timestamp: finished.completed_at, data: finished });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.at('/batch-done')).toHaveLength(1);
  }, 180_000);

  it('takes an OpenAI batch file as JSONL (application/jsonl and application/x-ndjson), failures counted', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => ({
      custom_id: `line-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o', messages: messages(i % 4 === 3 ? `[[sim status=400]] bad ${i}` : `[[sim tokens=4]] jsonl ${i}`), max_tokens: 50 },
    }));
    for (const type of ['application/jsonl', 'application/x-ndjson; charset=utf-8']) {
      const text = `${lines.map((line) => JSON.stringify(line)).join('\r\n')}\n\n`;
      const created = await postText(`${stack.url}/v1/batches`, text, type);
      expect(created.status, type).toBe(202);
      expect(created.body.request_counts.total).toBe(12);
      const finished = await waitForEnd(created.body.id);
      expect(finished).toMatchObject({ status: 'completed', request_counts: { total: 12, completed: 9, failed: 3 } });
      const byCustomId = new Map((await results(batchUrl(created.body.id, '/results'))).map((line) => [line.custom_id, line]));
      expect(byCustomId.size).toBe(12);
      for (const [i, line] of lines.entries()) {
        const result = byCustomId.get(line.custom_id);
        if (i % 4 === 3) {
          expect(result).toMatchObject({ status: 'failed', result: null, error: { code: 'invalid_upstream_request' } });
        } else {
          expect(result).toMatchObject({ status: 'succeeded', error: null });
          expect(result.result.content).toBe(simulateReply({ model: 'gpt-4o', messages: line.body.messages, max_tokens: 50 }).content);
        }
      }
    }
  }, 60_000);

  it('keeps a request priority the body sets, and gives results while the batch runs', async () => {
    const created = (
      await postJson(
        `${stack.url}/v1/batches`,
        {
          requests: [
            { custom_id: 'quick', body: { messages: messages('[[sim tokens=2]] quick'), priority: 2 } },
            { custom_id: 'slow', body: { messages: messages('[[sim ttft=1500 tokens=2]] slow') } },
          ],
        },
        alice,
      )
    ).body;
    const deadline = Date.now() + 10_000;
    let partial: any[] = [];
    while (partial.length === 0 && Date.now() < deadline) {
      partial = await results(batchUrl(created.id, '/results'));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(partial.map((line) => line.custom_id)).toEqual(['quick']);
    expect((await getJson(batchUrl(created.id), alice)).body.status).toBe('in_progress');
    expect((await getJson(`${stack.url}/v1/jobs/${partial[0].job_id}`, alice)).body.priority).toBe(2);
    expect((await waitForEnd(created.id)).request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
  });

  it('cancels what has not ended: running and queued requests end cancelled and count as failed', async () => {
    const quick = Array.from({ length: 10 }, (_, i) => ({ custom_id: `quick-${i}`, body: { messages: messages(`[[sim tokens=2]] q ${i}`), priority: 1 } }));
    // 250 that would take 30 s: 200 run (WORKER_CONCURRENCY) and 50 wait in the queue.
    const slow = Array.from({ length: 250 }, (_, i) => ({ custom_id: `slow-${i}`, body: { messages: messages(`[[sim ttft=30000]] s ${i}`) } }));
    const created = (await postJson(`${stack.url}/v1/batches`, { requests: [...quick, ...slow] }, alice)).body;
    const deadline = Date.now() + 20_000;
    let current = created;
    while (current.request_counts.completed < 10 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      current = (await getJson(batchUrl(created.id), alice)).body;
    }
    expect(current.request_counts.completed).toBe(10);

    const cancelling = await postJson(batchUrl(created.id, '/cancel'), {}, alice);
    expect(cancelling.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain(cancelling.body.status);
    const finished = await waitForEnd(created.id, 20_000);
    expect(finished).toMatchObject({ status: 'cancelled', request_counts: { total: 260, completed: 10, failed: 250 } });
    expect(finished.completed_at).toBeTypeOf('number');

    const lines = await results(batchUrl(created.id, '/results'));
    expect(lines).toHaveLength(260);
    for (const line of lines) {
      if (line.custom_id.startsWith('quick')) expect(line.status).toBe('succeeded');
      else expect(line).toMatchObject({ status: 'cancelled', result: null, error: { code: 'cancelled' } });
    }
    const again = await postJson(batchUrl(created.id, '/cancel'), {}, alice);
    expect(again.status).toBe(409);
    expect(again.body.error.type).toBe('invalid_request_error');
  }, 60_000);

  it('keeps a batch to its tenant: another gets 404 for it, its results and its cancel', async () => {
    const created = (await postJson(`${stack.url}/v1/batches`, { requests: [{ custom_id: 'a', body: { messages: messages('[[sim tokens=2]] mine') } }] }, alice)).body;
    for (const [method, path] of [
      ['GET', ''],
      ['GET', '/results'],
      ['POST', '/cancel'],
    ] as const) {
      const response = await fetch(batchUrl(created.id, path), { method, headers: bob });
      expect(response.status, path).toBe(404);
      expect((await response.json()).error.type).toBe('invalid_request_error');
    }
    expect((await getJson(`${stack.url}/v1/batches/batch_doesnotexistdoesnotexist1`, alice)).status).toBe(404);
    expect((await getJson(`${stack.url}/v1/batches/nonsense`, alice)).status).toBe(404);
    await waitForEnd(created.id);
  });

  it('rejects a bad batch with a 400 naming the request, and enqueues nothing of it', async () => {
    const good = (i: number) => ({ custom_id: `r${i}`, body: { messages: messages(`ok ${i}`) } });
    const json: [unknown, string | null][] = [
      [{}, 'requests'],
      [{ requests: [] }, 'requests'],
      [{ requests: 'x' }, 'requests'],
      [{ requests: [good(0), { body: { messages: messages('x') } }] }, 'requests[1].custom_id'],
      [{ requests: [good(0), { custom_id: '', body: { messages: messages('x') } }] }, 'requests[1].custom_id'],
      [{ requests: [good(0), good(1), { custom_id: 'r2', body: { messages: [] } }] }, 'requests[2].body.messages'],
      [{ requests: [good(0), good(1), { custom_id: 'r2', body: { messages: [{ role: 'wizard', content: 'x' }] } }] }, 'requests[2].body.messages[0].role'],
      [{ requests: [good(0), { custom_id: 'r1', body: { messages: messages('x'), temperature: 5 } }] }, 'requests[1].body.temperature'],
      [{ requests: [good(0), { custom_id: 'r1' }] }, 'requests[1].body'],
      [{ requests: [good(0), good(1), good(2), good(1)] }, 'requests[3].custom_id'],
      [{ requests: [{ custom_id: 'r0', body: { messages: messages('x'), webhook: { url: 'https://example.com/' } } }] }, 'requests[0].body.webhook'],
      [{ requests: [good(0), { custom_id: 'r1', body: { messages: messages('x'), session_id: 'sess_00000000000000000000' } }] }, 'requests[1].body.session_id'],
      [{ requests: [good(0), { custom_id: 'r1', body: { messages: messages('x'.repeat(1024 * 1024)) } }] }, 'requests[1]'],
      [[good(0)], null],
      [{ requests: [good(0)], metadata: { a: 'x'.repeat(600) } }, 'metadata.a'],
      [{ requests: [good(0)], webhook: { url: 'ftp://127.0.0.1/' } }, 'webhook.url'],
      [{ requests: Array.from({ length: 50_001 }, (_, i) => good(i)) }, 'requests'],
    ];
    for (const [body, param] of json) {
      const response = await postJson(`${stack.url}/v1/batches`, body, carol);
      expect(response.status, JSON.stringify(body).slice(0, 200)).toBe(400);
      expect(response.body.error, JSON.stringify(body).slice(0, 200)).toMatchObject({ type: 'invalid_request_error', param });
    }
    const line = (i: number, extra: object = {}) => JSON.stringify({ custom_id: `l${i}`, method: 'POST', url: '/v1/chat/completions', body: { messages: messages(`ok ${i}`) }, ...extra });
    const jsonl: [string, string | null][] = [
      [`${line(0)}\nnot json\n`, 'line 2'],
      [`${line(0)}\n${line(1)}\n${line(2)}\n${JSON.stringify({ custom_id: 'l1', body: { messages: messages('x') } })}\n`, 'line 4'],
      [`${line(0, { method: 'GET' })}\n`, 'line 1'],
      [`${line(0)}\n\n${line(2, { url: '/v1/embeddings' })}\n`, 'line 3'],
      [`${line(0)}\n${JSON.stringify({ custom_id: 'l1', body: { messages: [] } })}\n`, 'line 2'],
      [`${line(0)}\n${JSON.stringify({ body: { messages: messages('x') } })}\n`, 'line 2'],
      ['\n\n', null],
      [`${line(0)}\n${line(1, { padding: ' '.repeat(1024 * 1024) })}\n`, 'line 2'],
    ];
    for (const [text, param] of jsonl) {
      const response = await postText(`${stack.url}/v1/batches`, text, 'application/jsonl', carol);
      expect(response.status, text).toBe(400);
      expect(response.body.error, text).toMatchObject({ type: 'invalid_request_error', param });
    }
    const duplicate = await postText(`${stack.url}/v1/batches`, `${line(0)}\n${line(1)}\n${line(2)}\n${line(1)}\n`, 'application/x-ndjson', carol);
    expect(duplicate.body.error).toMatchObject({ param: 'line 4', code: 'duplicate_custom_id' });

    expect((await postText(`${stack.url}/v1/batches`, 'a,b', 'text/csv', carol)).status).toBe(415);
    expect((await postText(`${stack.url}/v1/batches`, '{"requests": [', 'application/json', carol)).status).toBe(400);
    const invalidUtf8 = Buffer.concat([Buffer.from(`${line(0)}\n{"custom_id":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]);
    expect((await postText(`${stack.url}/v1/batches`, invalidUtf8, 'application/jsonl', carol)).body.error).toMatchObject({ code: 'invalid_encoding' });
    const cutCharacter = Buffer.concat([Buffer.from(`${line(0)}\n`), Buffer.from([0xe2, 0x82])]);
    expect((await postText(`${stack.url}/v1/batches`, cutCharacter, 'application/jsonl', carol)).body.error).toMatchObject({ code: 'invalid_encoding' });
    expect((await postText(`${stack.url}/v1/batches`, ' \n', 'application/vnd.batch+json', carol)).body.error).toMatchObject({ code: 'invalid_json', message: 'The request body is empty; send the batch' });
    const huge = await postText(`${stack.url}/v1/batches`, Buffer.alloc(51 * 1024 * 1024, 0x20), 'application/jsonl', carol);
    expect(huge.status).toBe(413);
    expect(huge.body.error.type).toBe('invalid_request_error');

    expect((await getJson(`${stack.url}/v1/jobs`, carol)).body.data).toEqual([]);
  }, 60_000);
});
