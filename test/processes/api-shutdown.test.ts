import { connect } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateReply } from '@spool/simulator';
import { REDIS_URL, startStack, type Stack } from '../support/stack.js';
import { postJson } from '../support/http.js';
import { startApiProcess, type Child } from '../support/processes.js';

/** Resolves with the error code of a fresh TCP connection to `url` (null when it connects). */
function connectionError(url: string): Promise<string | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => (socket.destroy(), resolve(null)));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('SIGTERM to an API process', () => {
  let stack: Stack;
  let api: Child;
  let url: string;
  beforeAll(async () => {
    // The worker and simulator run here; the API is a real process on the same Redis prefix.
    stack = await startStack();
    ({ child: api, url } = await startApiProcess({
      REDIS_URL,
      SPOOL_PREFIX: stack.config.prefix,
      OPENAI_BASE_URL: stack.simulatorUrl,
      SPOOL_STORE_URL: stack.config.storeUrl,
      SPOOL_CLIENT_RPM: '1000000',
    }));
  });
  afterAll(async () => {
    await api?.stop();
    await stack?.close();
  });

  /** Resolves once upstream got the request with this content: its job is running. */
  const upstreamGot = (content: string) =>
    new Promise<void>((resolve) =>
      stack.simulator.events.on('request', (request: { messages: { content: string }[] }) => {
        if (request.messages.some((message) => message.content === content)) resolve();
      }),
    );

  it('lets a door call in flight finish with the whole answer, ends event streams and waits, refuses new connections, then exits 0', async () => {
    const watched = await postJson(`${stack.url}/v1/jobs`, { messages: [{ role: 'user', content: '[[sim tokens=200 tps=10]] long' }] });
    const held = '[[sim tokens=200 tps=10]] held';
    const holding = upstreamGot(held);
    const waiting = postJson(`${url}/v1/jobs?wait=60`, { messages: [{ role: 'user', content: held }] });
    await holding;
    const events = await fetch(`${url}/v1/jobs/${watched.body.id}/events`);
    expect(events.status).toBe(200);
    const eventsEnded = events.text();

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused-in-open-mode', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: '[[sim tokens=30 tps=20]] in flight' }];
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
    const parts = stream[Symbol.asyncIterator]();
    let text = (await parts.next()).value?.choices[0]?.delta.content ?? '';

    const exited = api.stop('SIGTERM');
    // The event stream ends once the server has stopped listening: a new connection is refused from then on.
    expect(await eventsEnded).not.toContain('event: done');
    expect(await connectionError(url)).toBe('ECONNREFUSED');
    // ?wait answers with the job as it is rather than hold the stop up.
    const answered = await waiting;
    expect(answered.status).toBe(202);
    expect(answered.body.status).toBe('running');

    let finish: string | null = null;
    for (let part = await parts.next(); !part.done; part = await parts.next()) {
      text += part.value.choices[0]?.delta.content ?? '';
      finish = part.value.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(simulateReply({ model: 'gpt-4o-mini', messages }).content);
    expect(finish).toBe('stop');
    expect(await exited).toBe(0);
    for (const id of [watched.body.id, answered.body.id]) await postJson(`${stack.url}/v1/jobs/${id}/cancel`, {});
  });
});
