import { request as httpRequest, type ClientRequest } from 'node:http';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startStack, type Stack } from '../support/stack.js';
import { getJson } from '../support/http.js';
import { PrivateRedis } from '../support/redis-server.js';

const alice = { authorization: 'Bearer alice-key-0000000000000' };
const bob = { authorization: 'Bearer bob-key-00000000000000' };
const API_KEYS = 'alice:alice-key-0000000000000,bob:bob-key-00000000000000';

const line = (i: number, content = `hello ${i}`) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: { messages: [{ role: 'user', content }] } });

async function post(url: string, body: string | Buffer, contentType: string, headers: Record<string, string>) {
  const response = await fetch(`${url}/v1/batches`, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** A batch upload whose body the test sends a piece at a time; `answer` settles when the server answers. */
function openUpload(url: string, headers: Record<string, string>, contentType = 'application/jsonl'): { request: ClientRequest; answer: Promise<{ status: number; body: any }> } {
  // A connection of its own: one the server closed after answering an earlier upload early must not be reused.
  const request = httpRequest(`${url}/v1/batches`, { method: 'POST', agent: false, headers: { 'content-type': contentType, ...headers } });
  const answer = once(request, 'response').then(async ([response]) => {
    let text = '';
    for await (const chunk of response) text += chunk;
    return { status: response.statusCode as number, body: JSON.parse(text) };
  });
  request.flushHeaders();
  return { request, answer };
}

/** Posts a JSONL batch a slice at a time, as a client streaming a file would (fetch would copy it whole first). */
async function streamUpload(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const request = httpRequest(`${url}/v1/batches`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length, ...headers } });
  const answered = once(request, 'response');
  const slices = function* () {
    for (let offset = 0; offset < body.length; offset += 256 * 1024) yield body.subarray(offset, offset + 256 * 1024);
  };
  await pipeline(Readable.from(slices()), request);
  const [response] = await answered;
  let text = '';
  for await (const chunk of response) text += chunk;
  return { status: response.statusCode as number, body: JSON.parse(text) };
}

/** Every key a job or a batch leaves under the prefix, and the queue's entries. */
async function leftovers(stack: Stack): Promise<{ keys: string[]; queued: number }> {
  const { redis, queue, config } = { redis: stack.api.deps.redis, queue: stack.api.deps.queue, config: stack.config };
  const keys: string[] = [];
  for (const pattern of ['job', 'events', 'batch', 'tenant'].map((kind) => `${config.prefix}:${kind}:*`)) {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...found.filter((key) => !key.endsWith(':schedule'))); // a tenant's settings, written at start
      cursor = next;
    } while (cursor !== '0');
  }
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
  // jobs waiting in their tenants' lines for the fair scheduler
  for (const tenant of await redis.zrange(stack.api.deps.keys.schedulerTenants(), '0', '-1')) counts[`line:${tenant}`] = await redis.zcard(stack.api.deps.keys.tenantWaiting(tenant));
  return { keys, queued: Object.values(counts).reduce((sum, count) => sum + count, 0) };
}

describe('batch uploads', () => {
  let stack: Stack;

  beforeAll(async () => {
    // No workers: what a batch enqueued stays where the test can see it.
    stack = await startStack({ workers: 0, env: { SPOOL_API_KEYS: API_KEYS } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('enqueues nothing of a batch whose last line is bad, or whose last request cannot be stored', async () => {
    const good = Array.from({ length: 2500 }, (_, i) => line(i));
    const badLast = await post(stack.url, `${good.join('\n')}\n{"custom_id":"last","body":{"messages":[]}}\n`, 'application/jsonl', alice);
    expect(badLast.status).toBe(400);
    expect(badLast.body.error).toMatchObject({ type: 'invalid_request_error', param: 'line 2501' });

    // Valid JSON that cannot be serialized again (nested past the stack): it fails while the
    // batch is being written, after the first chunks of jobs were.
    const deep = `{"custom_id":"deep","body":{"messages":[{"role":"user","content":"x"}],"extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    const failedLast = await post(stack.url, `${good.join('\n')}\n${deep}\n`, 'application/jsonl', alice);
    expect(failedLast.status).not.toBe(202);
    expect(failedLast.body.error.type).toBeTypeOf('string');

    expect(await leftovers(stack)).toEqual({ keys: [], queued: 0 });
    expect((await getJson(`${stack.url}/v1/jobs`, alice)).body.data).toEqual([]);
  }, 30_000);

  it('answers a bad first line while the upload is still being sent', async () => {
    const upload = openUpload(stack.url, bob);
    upload.request.write(`{"custom_id":"a","body":{"messages":"not a list"}}\n`);
    const answered = await Promise.race([upload.answer, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000))]);
    upload.request.end(`${line(1)}\n`);
    expect(answered?.status).toBe(400);
    expect(answered?.body.error).toMatchObject({ param: 'line 1' });
  });

  it('refuses a JSON request over 1 MB while its one long string is still arriving', async () => {
    const upload = openUpload(stack.url, bob, 'application/json');
    upload.request.write('{"requests":[{"custom_id":"a","body":{"messages":[{"role":"user","content":"');
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 24; i++) upload.request.write(chunk); // 1.5 MB, the string never closed
    const answered = await Promise.race([upload.answer, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000))]);
    upload.request.destroy();
    expect(answered?.status).toBe(400);
    expect(answered?.body.error).toMatchObject({ code: 'request_too_large', param: 'requests[0]' });
  });

  it('refuses a third upload of a tenant in progress with a 429, while another tenant uploads', async () => {
    const first = openUpload(stack.url, alice);
    const second = openUpload(stack.url, alice);
    first.request.write(`${line(0)}\n`);
    second.request.write(`${line(0)}\n`);
    // Both uploads are in progress once a third is refused; until then an empty batch is a 400.
    let third = await post(stack.url, '\n', 'application/jsonl', alice);
    for (let tries = 0; third.status === 400 && tries < 800; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      third = await post(stack.url, '\n', 'application/jsonl', alice);
    }
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({ type: 'rate_limit_error', code: 'too_many_uploads' });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);

    const other = await post(stack.url, `${line(0)}\n`, 'application/jsonl', bob);
    expect(other.status).toBe(202);

    first.request.end(`${line(1)}\n`);
    second.request.end(`${line(1)}\n`);
    expect((await first.answer).status).toBe(202);
    expect((await second.answer).status).toBe(202);
    expect((await post(stack.url, `${line(0)}\n`, 'application/jsonl', alice)).status).toBe(202);
  }, 30_000);

  it('takes a 40 MB batch without holding its text, and /healthz answers while it uploads', async () => {
    // Each line is mostly whitespace: what a parser keeps of it is small, the text is not.
    const padding = Buffer.alloc(13_000, ' ');
    const body = Buffer.concat(
      Array.from({ length: 3000 }, (_, i) => [Buffer.from(`{"custom_id":"big-${i}",`), padding, Buffer.from(`"body":{"messages":[{"role":"user","content":"hello ${i}"}]}}\n`)]).flat(),
    );
    // Heap and Buffers alike: a body read whole is a Buffer before it is text.
    const used = () => {
      const memory = process.memoryUsage();
      return memory.heapUsed + memory.external;
    };
    const baseline = used();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, used());
    }, 5);
    let slowestHealth = 0;
    let uploading = true;
    const probes = (async () => {
      while (uploading) {
        const started = performance.now();
        expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
        slowestHealth = Math.max(slowestHealth, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const created = await streamUpload(stack.url, body, bob).finally(() => {
      uploading = false;
      clearInterval(sampler);
    });
    await probes;
    expect(created.status).toBe(202);
    expect(created.body.request_counts.total).toBe(3000);
    // Generous: the machine's two cores are shared; a body parsed in one go stalls it for seconds.
    expect(slowestHealth).toBeLessThan(2000);
    // The body is 40 MB: read whole, it is held as a Buffer, then as text, then as lines (over twice its size).
    expect(peak - baseline).toBeLessThan(body.length * 1.5);
  }, 60_000);
});

describe('a batch when Redis runs out of memory part-way', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  let stack: Stack;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    admin = new Redis(redis.url);
    stack = await startStack({ workers: 0, env: { REDIS_URL: redis.url, SPOOL_API_KEYS: API_KEYS } });
  });
  afterAll(async () => {
    await stack?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it('leaves nothing behind, answers 503, and takes the batch once memory is back', async () => {
    const content = 'x'.repeat(2000);
    const text = `${Array.from({ length: 3000 }, (_, i) => line(i, `${content} ${i}`)).join('\n')}\n`;
    // About 2 MB of room: the first chunks of jobs fit, the rest of the ~6 MB batch does not.
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    await admin.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024));
    try {
      const refused = await post(stack.url, text, 'application/jsonl', alice);
      expect(refused.status).toBe(503);
      expect(refused.body.error.type).toBe('api_error');
      expect(refused.headers.get('retry-after')).toBeTruthy();
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    expect(await admin.info('errorstats')).toMatch(/errorstat_OOM:count=[1-9]/);
    // Jobs were recorded before the fault (each took a submission number), and are gone again.
    expect(Number(await admin.get(stack.api.deps.keys.submissionCounter()))).toBeGreaterThan(0);
    expect(await leftovers(stack)).toEqual({ keys: [], queued: 0 });

    const accepted = await post(stack.url, text, 'application/jsonl', alice);
    expect(accepted.status).toBe(202);
    expect((await getJson(`${stack.url}/v1/batches/${accepted.body.id}`, alice)).body).toMatchObject({ status: 'in_progress', request_counts: { total: 3000 } });
    expect((await leftovers(stack)).queued).toBe(3000);
  }, 60_000);
});
