/**
 * Issue 12 #6: a session job whose worker cannot read the store (session history) for a moment
 * waits and runs once the store is back; it neither fails nor spends attempts. The outage is real:
 * the store talks to PostgreSQL through a TCP proxy whose link the test cuts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '@spool/store';
import { simulateReply } from '@spool/simulator';
import { dropSchema, postgresMissing, POSTGRES_TEST_URL, testSchemaName } from '../../packages/store/src/test-support.js';
import { startStack, type Stack } from '../support/stack.js';
import { getJson, postJson, readEvents } from '../support/http.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { skipWhenMissing } from '../support/skip-when-missing.js';

const MODEL = 'gpt-4o-mini';
type Message = { role: string; content: string };
const user = (content: string): Message => ({ role: 'user', content });

describe('a store outage while a session job waits', skipWhenMissing(await postgresMissing()), () => {
  const schema = testSchemaName();
  let proxy: TcpProxy;
  let store: PostgresStore;
  let stack: Stack;
  /** what upstream was sent, by the content of the request's last message */
  const prompts = new Map<string, Message[]>();

  beforeAll(async () => {
    const target = new URL(POSTGRES_TEST_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    target.host = `127.0.0.1:${proxy.port}`;
    store = new PostgresStore({ url: target.toString(), schema, connectTimeoutMs: 500 });
    stack = await startStack({ store, simulator: { tokensPerSecond: 2000 } });
    stack.simulator.events.on('request', (request: { messages: Message[] }) => {
      prompts.set(request.messages[request.messages.length - 1].content, request.messages);
    });
  });
  afterAll(async () => {
    proxy?.restore();
    await stack?.close();
    await store?.close();
    await proxy?.close();
    await dropSchema(schema);
  });

  it('holds the job back while the store is down, then runs it with its history on the first attempt', async () => {
    const session = (await postJson(`${stack.url}/v1/sessions`, {})).body.id as string;
    const first = user(`[[sim tokens=5]] first turn ${randomUUID()}`);
    const firstJob = (await postJson(`${stack.url}/v1/jobs?wait=30`, { model: MODEL, messages: [first], session_id: session })).body;
    expect(firstJob.status).toBe('succeeded');

    // The job is accepted while the store answers (the API checks the session), and the worker
    // takes it only once the store is gone.
    const worker = stack.workers[0].worker;
    await worker.pause();
    const second = user(`[[sim tokens=5]] second turn ${randomUUID()}`);
    const submitted = await postJson(`${stack.url}/v1/jobs`, { model: MODEL, messages: [second], session_id: session });
    expect(submitted.status).toBe(202);
    proxy.cut();
    worker.resume();

    // queued, running, queued: the attempt gave the job back, uncounted, instead of failing it.
    const early = await readEvents(`${stack.url}${submitted.body.stream_url}`, { limit: 3 });
    expect(early.map((event) => [event.event, JSON.parse(event.data)])).toEqual([
      ['status', { status: 'queued', attempt: 1 }],
      ['status', { status: 'running', attempt: 1 }],
      ['status', { status: 'queued', attempt: 1 }],
    ]);
    proxy.restore();

    const events = await readEvents(`${stack.url}${submitted.body.stream_url}`);
    const done = JSON.parse(events[events.length - 1].data);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
    const history = [first, { role: 'assistant', content: firstJob.result.content }];
    expect(prompts.get(second.content)).toEqual([...history, second]);
    expect(done.result.content).toBe(simulateReply({ model: MODEL, messages: [...history, second] }).content);
    expect((await getJson(`${stack.url}/v1/jobs/${done.id}`)).body.status).toBe('succeeded');
  });
});
