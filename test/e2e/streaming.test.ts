import { beforeAll, describe, expect, it, vi } from 'vitest';
import { SpoolWorker } from '@spool/worker';
import { clientList, silentLogger, startStack, useStack } from '../support/stack.js';
import { getJson, postJson, readEvents, type SseEvent } from '../support/http.js';

const messages = (content: string) => [{ role: 'user', content }];

describe('SSE delivery', () => {
  const stack = useStack({ heartbeatMs: 100, simulator: { tokensPerSecond: 200 } });

  it('sends a ": ping" comment while nothing else happens', async () => {
    const comments: string[] = [];
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('[[sim ttft=600 tokens=3]] quiet start') })).body;
    const events = await readEvents(`${stack.url}${job.stream_url}`, { onComment: (comment) => comments.push(comment) });
    expect(comments.filter((comment) => comment.trim() === 'ping').length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)!.event).toBe('done');
  });

  it('answers a resumed stream with nothing new yet at once, not at the next heartbeat', async () => {
    const idle = await startStack({ workers: 0 });
    try {
      const job = (await postJson(`${idle.url}/v1/jobs`, { messages: messages('[[sim tokens=3]] resumed') })).body;
      const controller = new AbortController();
      const timeout = setTimeout(() => controller.abort(), 5000); // the heartbeat is 15 s away
      const response = await fetch(`${idle.url}${job.stream_url}`, { headers: { 'last-event-id': '1' }, signal: controller.signal });
      clearTimeout(timeout);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      controller.abort();
    } finally {
      await idle.close();
    }
  });

  it('serves 1,000 watchers of one API process over a single subscriber connection', async () => {
    const idle = await startStack({ workers: 0 });
    try {
      const job = (await postJson(`${idle.url}/v1/jobs`, { messages: messages('[[sim tokens=20]] crowd') })).body;
      const watchers = Array.from({ length: 1000 }, () => readEvents(`${idle.url}${job.stream_url}`));
      await vi.waitFor(() => expect(idle.api.deps.hub.watcherCount).toBe(1000), { timeout: 20_000, interval: 50 });
      // (a cluster client subscribes a job's channel on its shard's master by SSUBSCRIBE, from `ioredis-cluster(ssubscriber):<name>`)
      const subscribers = (await clientList()).filter((line) => line.includes(`${idle.config.prefix}-subscriber`) && / s?sub=[1-9]/.test(line));
      expect(subscribers).toHaveLength(1);

      const worker = new SpoolWorker({ config: idle.config, logger: silentLogger });
      idle.workers.push(worker);
      const results = await Promise.all(watchers);
      const reference = JSON.stringify(results[0]);
      expect(results[0].at(-1)!.event).toBe('done');
      for (const events of results) expect(JSON.stringify(events)).toBe(reference);
      expect(idle.api.deps.hub.watcherCount).toBe(0);
    } finally {
      await idle.close();
    }
  });
});

/** The stream's events once the server closes it; a stream still open after `ms` fails the test. */
async function readUntilClosed(url: string, headers: Record<string, string> = {}, ms = 3000): Promise<SseEvent[]> {
  const signal = AbortSignal.timeout(ms);
  const events = await readEvents(url, { headers, signal });
  if (signal.aborted) throw new Error(`the stream was still open after ${ms} ms`);
  return events;
}

describe('resuming an ended job', () => {
  const stack = useStack();
  let job: { id: string; stream_url: string };
  let doneId: number;
  beforeAll(async () => {
    job = (await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: messages('[[sim tokens=4]] ended') })).body;
    const events = await readUntilClosed(`${stack.url}${job.stream_url}`);
    expect(events.at(-1)!.event).toBe('done');
    doneId = events.at(-1)!.id;
  });

  it('closes at once with no events when Last-Event-ID is the done id', async () => {
    expect(await readUntilClosed(`${stack.url}${job.stream_url}`, { 'last-event-id': String(doneId) })).toEqual([]);
  });

  it('closes at once with no events for a cursor past the end (?after=999)', async () => {
    expect(await readUntilClosed(`${stack.url}${job.stream_url}?after=999`)).toEqual([]);
  });

  it('sends done from the record, with its own id, once the event log has expired', async () => {
    await stack.api.deps.redis.del(stack.api.deps.keys.events(job.id)); // what SPOOL_EVENTS_TTL_S does
    const record = (await getJson(`${stack.url}/v1/jobs/${job.id}`)).body;
    const events = await readUntilClosed(`${stack.url}${job.stream_url}`);
    expect(events).toEqual([{ id: doneId, event: 'done', data: JSON.stringify(record) }]);
    expect(await readUntilClosed(`${stack.url}${job.stream_url}`, { 'last-event-id': '2' })).toEqual(events);
    expect(await readUntilClosed(`${stack.url}${job.stream_url}`, { 'last-event-id': String(doneId) })).toEqual([]);
  });

  it('closes a stream waiting past the end as soon as the job ends', async () => {
    const idle = await startStack({ workers: 0 });
    try {
      const queued = (await postJson(`${idle.url}/v1/jobs`, { messages: messages('never runs') })).body;
      const reading = readUntilClosed(`${idle.url}${queued.stream_url}?after=999`, {}, 5000);
      await vi.waitFor(() => expect(idle.api.deps.hub.watcherCount).toBe(1));
      expect((await postJson(`${idle.url}/v1/jobs/${queued.id}/cancel`, {})).status).toBe(200);
      expect(await reading).toEqual([]);
    } finally {
      await idle.close();
    }
  });
});

describe('SSE streams per tenant', () => {
  const stack = useStack({ workers: 0, env: { SPOOL_SSE_MAX_PER_TENANT: '2', SPOOL_API_KEYS: 'alice:key-alice-0123456789,bob:key-bob-0123456789' } });
  const alice = { authorization: 'Bearer key-alice-0123456789' };
  const bob = { authorization: 'Bearer key-bob-0123456789' };

  /** An open stream of a queued job, and how to close it. */
  async function open(headers: Record<string, string>): Promise<{ status: number; body: string; close: () => void }> {
    const job = (await postJson(`${stack.url}/v1/jobs`, { messages: messages('waits') }, headers)).body;
    const controller = new AbortController();
    const response = await fetch(`${stack.url}${job.stream_url}`, { headers, signal: controller.signal });
    const body = response.status === 200 ? '' : await response.text();
    return { status: response.status, body, close: () => controller.abort() };
  }

  it('refuses a tenant its third stream with a 429, not another tenant, and frees a slot when one closes', async () => {
    const first = await open(alice);
    const second = await open(alice);
    expect([first.status, second.status]).toEqual([200, 200]);
    const refused = await fetch(`${stack.url}/v1/jobs/${(await postJson(`${stack.url}/v1/jobs`, { messages: messages('x') }, alice)).body.id}/events`, { headers: alice });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await refused.json()).error).toMatchObject({ type: 'rate_limit_error', code: 'too_many_streams' });

    // the door's streams count too, and a refused one makes no job
    const before = (await getJson(`${stack.url}/v1/jobs?limit=100`, alice)).body.data.length;
    const door = await postJson(`${stack.url}/v1/chat/completions`, { model: 'gpt-4o-mini', stream: true, messages: messages('door') }, alice);
    expect(door.status).toBe(429);
    expect(door.body.error.code).toBe('too_many_streams');
    expect((await getJson(`${stack.url}/v1/jobs?limit=100`, alice)).body.data.length).toBe(before);

    const other = await open(bob);
    expect(other.status).toBe(200);

    first.close();
    await vi.waitFor(async () => {
      const third = await open(alice);
      third.close();
      expect(third.status).toBe(200);
    });
    second.close();
    other.close();
  });
});

describe('tenants', () => {
  const stack = useStack({ env: { SPOOL_API_KEYS: 'alice:key-alice-0123456789,bob:key-bob-0123456789' } });
  const alice = { authorization: 'Bearer key-alice-0123456789' };
  const bob = { authorization: 'Bearer key-bob-0123456789' };

  it('answers 401 in the envelope without a valid key', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic abc' }];
    for (const headers of attempts) {
      const response = await getJson(`${stack.url}/v1/jobs`, headers);
      expect(response.status).toBe(401);
      expect(response.body.error.type).toBe('authentication_error');
    }
  });

  it("hides one tenant's jobs and streams from another behind the same 404 as a missing id", async () => {
    const job = (await postJson(`${stack.url}/v1/jobs?wait=20`, { messages: messages('secret') }, alice)).body;
    expect(job.status).toBe('succeeded');
    expect((await getJson(`${stack.url}/v1/jobs/${job.id}`, alice)).status).toBe(200);
    const missing = await getJson(`${stack.url}/v1/jobs/job_0000000000000000000000000`, bob);
    for (const path of [`/v1/jobs/${job.id}`, `/v1/jobs/${job.id}/events`]) {
      const response = await getJson(`${stack.url}${path}`, bob);
      expect(response.status).toBe(404);
      expect(response.body.error).toEqual(missing.body.error);
    }
    expect((await postJson(`${stack.url}/v1/jobs/${job.id}/cancel`, {}, bob)).status).toBe(404);
    expect((await getJson(`${stack.url}/v1/jobs`, bob)).body.data).toEqual([]);
    expect((await getJson(`${stack.url}/v1/jobs`, alice)).body.data.map((j: { id: string }) => j.id)).toEqual([job.id]);
  });
});

describe('health', () => {
  const stack = useStack({ workers: 0 });

  it('answers healthz and readyz with a request id', async () => {
    const health = await getJson(`${stack.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-request-id')).toBeTruthy();
    const ready = await getJson(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.redis).toBe('ok');
  });
});
