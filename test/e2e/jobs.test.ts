import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { simulateReply } from '@spool/simulator';
import { REDIS_URL, useStack } from '../support/stack.js';
import { getJson, joinDeltas, postJson, readEvents } from '../support/http.js';

const messages = (content: string) => [{ role: 'user', content }];

describe('jobs end to end', () => {
  const stack = useStack({ simulator: { tokensPerSecond: 500 } });

  it('accepts a job with 202, Location and the job object, then streams it to done', async () => {
    const response = await postJson(`${stack.url}/v1/jobs`, { messages: messages('tell me a story'), metadata: { team: 'a' } });
    expect(response.status).toBe(202);
    const job = response.body;
    expect(job.id).toMatch(/^job_[0-9A-Za-z]{20,}$/);
    expect(response.headers.get('location')).toBe(`/v1/jobs/${job.id}`);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(job).toMatchObject({ object: 'job', status: 'queued', model: 'gpt-4o-mini', priority: 5, metadata: { team: 'a' }, stream_url: `/v1/jobs/${job.id}/events` });

    const events = await readEvents(`${stack.url}${job.stream_url}`);
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
    expect(events[0]).toMatchObject({ event: 'status', data: '{"status":"queued","attempt":1}' });
    expect(events.find((event) => event.event === 'status' && event.data.includes('running'))).toBeTruthy();
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    const finished = JSON.parse(done.data);
    expect(finished.status).toBe('succeeded');
    const expected = simulateReply({ model: 'gpt-4o-mini', messages: messages('tell me a story') }).content;
    expect(finished.result.content).toBe(expected);
    expect(joinDeltas(events)).toBe(expected);
    expect(finished.result.finish_reason).toBe('stop');
    expect(finished.result.usage.completion_tokens).toBeGreaterThan(0);

    const fetched = await getJson(`${stack.url}/v1/jobs/${job.id}`);
    expect(fetched.body).toEqual(finished);
  });

  it('coalesces deltas: fewer events than tokens on a fast stream', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=200 tps=2000]] coalesce') })).body;
    expect(job.status).toBe('succeeded');
    const events = await readEvents(`${stack.url}${job.stream_url}`);
    const deltas = events.filter((event) => event.event === 'delta');
    expect(joinDeltas(events)).toBe(job.result.content);
    expect(deltas.length).toBeLessThan(100);
  });

  it('forwards the OpenAI fields upstream and finishes with length at max_tokens', async () => {
    const response = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('long one [[sim tokens=50]]'), max_tokens: 7, model: 'gpt-4o' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'succeeded', model: 'gpt-4o', result: { finish_reason: 'length' } });
    expect(response.body.result.usage.completion_tokens).toBe(7);
  });

  it('continues a job cut off at max_tokens with a new job holding only the continuation', async () => {
    const content = '[[sim tokens=30]] go on';
    const first = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(content), max_tokens: 8 })).body;
    expect(first.result.finish_reason).toBe('length');
    const response = await postJson(`${stack.url}/v1/jobs/${first.id}/continue`, {});
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`/v1/jobs/${response.body.id}`);
    expect(response.body.continues).toBe(first.id);
    const events = await readEvents(`${stack.url}${response.body.stream_url}`);
    const second = JSON.parse(events.at(-1)!.data);
    expect(second.status).toBe('succeeded');
    const whole = simulateReply({ model: 'gpt-4o-mini', messages: messages(content) }).content;
    expect(whole.startsWith(first.result.content + second.result.content)).toBe(true);
    expect(second.result.content.length).toBeGreaterThan(0);
    expect(joinDeltas(events)).toBe(second.result.content);

    const finished = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('[[sim tokens=3]] short') })).body;
    const refused = await postJson(`${stack.url}/v1/jobs/${finished.id}/continue`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.type).toBe('invalid_request_error');
  });

  it('?wait answers 202 with the current state when the job outlasts it', async () => {
    const response = await postJson(`${stack.url}/v1/jobs?wait=1`, { messages: messages('[[sim ttft=3000]] slow') });
    expect(response.status).toBe(202);
    expect(['queued', 'running']).toContain(response.body.status);
  });

  it('replays every event to a late client and resumes after Last-Event-ID or ?after with nothing lost or doubled', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages('replay me') })).body;
    const all = await readEvents(`${stack.url}${job.stream_url}`);
    expect(all.at(-1)!.event).toBe('done');
    const cut = Math.floor(all.length / 2);
    const resumed = await readEvents(`${stack.url}${job.stream_url}`, { headers: { 'Last-Event-ID': String(cut) } });
    expect(resumed).toEqual(all.slice(cut));
    const viaQuery = await readEvents(`${stack.url}${job.stream_url}?after=${cut + 1}`);
    expect(viaQuery).toEqual(all.slice(cut + 1));
  });

  it('resumes a live stream mid-way: the two halves join into the whole', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('[[sim tokens=40 tps=100]] live resume') })).body;
    const first = await readEvents(`${stack.url}${job.stream_url}`, { limit: 4 });
    const rest = await readEvents(`${stack.url}${job.stream_url}`, { headers: { 'Last-Event-ID': String(first.at(-1)!.id) } });
    const all = [...first, ...rest];
    expect(all.map((event) => event.id)).toEqual(all.map((_, index) => index + 1));
    expect(JSON.parse(rest.at(-1)!.data).result.content).toBe(joinDeltas(all));
  });

  it('rejects bad input with a 4xx naming the field', async () => {
    const cases: [unknown, string | null][] = [
      [{ messages: [] }, 'messages'],
      [{}, 'messages'],
      [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
      [{ messages: messages('x'), temperature: 2.5 }, 'temperature'],
      [{ messages: messages('x'), top_p: -0.1 }, 'top_p'],
      [{ messages: messages('x'), presence_penalty: 3 }, 'presence_penalty'],
      [{ messages: messages('x'), frequency_penalty: -3 }, 'frequency_penalty'],
      [{ messages: messages('x'), max_tokens: 0 }, 'max_tokens'],
      [{ messages: messages('x'), max_completion_tokens: 0 }, 'max_completion_tokens'],
      [{ messages: messages('x'), priority: 11 }, 'priority'],
      [{ messages: messages('x'), on_interrupt: 'sometimes' }, 'on_interrupt'],
      [{ messages: messages('x'), metadata: { a: 'x'.repeat(513) } }, 'metadata.a'],
      [[1, 2], null],
    ];
    for (const [body, param] of cases) {
      const response = await postJson(`${stack.url}/v1/jobs`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param });
      expect(Object.keys(response.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    }
  });

  it('answers 400 for broken JSON and invalid UTF-8, 415 for another content type, 413 over 1 MB', async () => {
    const broken = await postJson(`${stack.url}/v1/jobs`, '{"messages": [');
    expect(broken.status).toBe(400);
    expect(broken.body.error.type).toBe('invalid_request_error');
    const bytes = Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    const invalidUtf8 = await fetch(`${stack.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bytes });
    expect(invalidUtf8.status).toBe(400);
    expect((await invalidUtf8.json()).error).toMatchObject({ code: 'invalid_encoding' });
    const empty = await fetch(`${stack.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/vnd.job+json' }, body: ' ' });
    expect((await empty.json()).error).toMatchObject({ code: 'invalid_json', message: 'The request body is empty; send a JSON object' });
    const form = await fetch(`${stack.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' });
    expect(form.status).toBe(415);
    const huge = await postJson(`${stack.url}/v1/jobs`, { messages: messages('x'.repeat(1_100_000)) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.type).toBe('invalid_request_error');
  });

  it('answers 415 naming Content-Type for a body that does not say it is JSON (a cross-site Blob sends none)', async () => {
    const json = JSON.stringify({ messages: messages('from another site') });
    const batch = JSON.stringify({ requests: [{ custom_id: 'a', body: { messages: messages('from another site') } }] });
    for (const [path, body] of [['/v1/jobs', json], ['/v1/chat/completions', json], ['/v1/batches', batch]]) {
      const response = await fetch(`${stack.url}${path}`, { method: 'POST', body: new Blob([body]) });
      expect(response.status, path).toBe(415);
      expect((await response.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_media_type', param: 'Content-Type' });
    }
  });

  it('answers 404 in the envelope for unknown jobs and URLs', async () => {
    for (const path of ['/v1/jobs/job_doesnotexistdoesnotexist1', '/v1/jobs/nonsense', '/v1/jobs/job_doesnotexistdoesnotexist1/events', '/v1/nowhere']) {
      const response = await getJson(`${stack.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.body.error.type).toBe('invalid_request_error');
    }
  });

  it('rejects a bad resume cursor and bad list parameters naming them', async () => {
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('cursor') })).body;
    const bad = await getJson(`${stack.url}${job.stream_url}`, { 'Last-Event-ID': 'abc' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('Last-Event-ID');
    for (const [query, param] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['status=done', 'status']]) {
      const response = await getJson(`${stack.url}/v1/jobs?${query}`);
      expect(response.status).toBe(400);
      expect(response.body.error.param).toBe(param);
    }
    const wait = await postJson(`${stack.url}/v1/jobs?wait=61`, { messages: messages('x') });
    expect(wait.status).toBe(400);
    expect(wait.body.error.param).toBe('wait');
  });
});

describe('listing', () => {
  const stack = useStack({ workers: 0 });

  it('lists newest first by submission order, pages with after and has_more, filters by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await postJson(`${stack.url}/v1/jobs`, { messages: messages(`list ${i}`) });
      expect(response.status, JSON.stringify(response.body)).toBe(202);
      ids.push(response.body.id);
    }
    const newestFirst = [...ids].reverse();
    const first = await getJson(`${stack.url}/v1/jobs?limit=3`);
    expect(first.body.object).toBe('list');
    expect(first.body.data.map((job: { id: string }) => job.id)).toEqual(newestFirst.slice(0, 3));
    expect(first.body.has_more).toBe(true);
    const second = await getJson(`${stack.url}/v1/jobs?limit=3&after=${newestFirst[2]}`);
    expect(second.body.data.map((job: { id: string }) => job.id)).toEqual(newestFirst.slice(3, 6));
    const last = await getJson(`${stack.url}/v1/jobs?limit=3&after=${newestFirst[5]}`);
    expect(last.body.data.map((job: { id: string }) => job.id)).toEqual(newestFirst.slice(6));
    expect(last.body.has_more).toBe(false);
    expect((await getJson(`${stack.url}/v1/jobs?status=queued`)).body.data).toHaveLength(7);
    expect((await getJson(`${stack.url}/v1/jobs?status=succeeded`)).body.data).toHaveLength(0);
  });

  it('renders a listing from the fields it shows, without reading any job\'s request', async () => {
    const big = await Promise.all(
      [1, 2, 3].map((i) => postJson(`${stack.url}/v1/jobs`, { messages: messages(`big ${i} ${'x'.repeat(300_000)}`), metadata: { n: String(i) } })),
    );
    const jobKey = `${stack.config.prefix}:job:`;
    // Record what the API's own connection sends (the real client, passing everything on). MONITOR would see the
    // same, but ioredis misreads monitor lines that arrive with MONITOR's own OK on a busy server.
    // (a cluster client dispatches through the same method)
    const redis = stack.api.deps.redis as Redis;
    const send = redis.sendCommand;
    const commands: string[][] = [];
    redis.sendCommand = function (this: typeof redis, command, ...rest) {
      commands.push([command.name, ...command.args.map(String)]);
      return send.call(this, command, ...rest);
    } as typeof send;
    try {
      const listed = await getJson(`${stack.url}/v1/jobs?limit=100`);
      const byId = new Map(listed.body.data.map((job: { id: string }) => [job.id, job]));
      const reads = commands.filter(([, key]) => key?.startsWith(jobKey));
      redis.sendCommand = send;
      // (a queued job's own GET adds `waiting_on`, which a listing leaves out: it would cost a script per job)
      for (const { body: submitted } of big) expect(byId.get(submitted.id)).toEqual({ ...(await getJson(`${stack.url}/v1/jobs/${submitted.id}`)).body, waiting_on: undefined });
      expect(reads.length).toBeGreaterThanOrEqual(3);
      for (const [command, , ...fields] of reads) {
        expect(command.toLowerCase()).toBe('hmget');
        expect(fields).not.toContain('request');
      }
    } finally {
      redis.sendCommand = send;
    }
  });
});
