import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatMessage } from '@spool/contracts';
import { countPromptTokens } from '@spool/llm';
import { PostgresStore, type Store } from '@spool/store';
import { dropSchema, postgresMissing, POSTGRES_TEST_URL, testSchemaName } from '../../packages/store/src/test-support.js';
import { startStack, type Stack } from '../support/stack.js';
import { getJson, postJson, readEvents } from '../support/http.js';
import { freePort } from '../../scripts/free-port.js';
import { skipWhenMissing } from '../support/skip-when-missing.js';

const acme = { authorization: 'Bearer acme-key-00000000000000' };
const umbrella = { authorization: 'Bearer umbrella-key-0000000000' };
const API_KEYS = 'acme:acme-key-00000000000000,umbrella:umbrella-key-0000000000';
const CONTEXT_TOKENS = 400;

type Message = { role: string; content: string };
const user = (content: string): Message => ({ role: 'user', content });
const promptTokens = (messages: Message[]) => countPromptTokens(messages as ChatMessage[]);

async function deleteJson(url: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'DELETE', headers });
  return { status: response.status, body: await response.json() };
}

interface Backend {
  name: string;
  /** what this machine lacks for it, if anything */
  missing: string | undefined;
  /** the store for the stack (none: the stack's default, a temp SQLite file) and how to remove it */
  open(): Promise<{ store?: Store; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  { name: 'SQLite', missing: undefined, open: async () => ({ cleanup: async () => undefined }) },
  {
    name: 'PostgreSQL',
    missing: await postgresMissing(),
    open: async () => {
      const schema = testSchemaName();
      const store = new PostgresStore({ url: POSTGRES_TEST_URL, schema });
      return {
        store,
        cleanup: async () => {
          await store.close();
          await dropSchema(schema);
        },
      };
    },
  },
];

for (const backend of backends) {
  describe(`sessions on ${backend.name}`, skipWhenMissing(backend.missing), () => {
    let stack: Stack;
    let cleanup: () => Promise<void>;
    /** what upstream was sent, by the content of the request's last message */
    const prompts = new Map<string, Message[]>();

    beforeAll(async () => {
      const opened = await backend.open();
      cleanup = opened.cleanup;
      stack = await startStack({
        store: opened.store,
        workers: 2,
        env: { SPOOL_API_KEYS: API_KEYS, SPOOL_CONTEXT_TOKENS: String(CONTEXT_TOKENS) },
        simulator: { tokensPerSecond: 2000, ttftMs: 5 },
      });
      stack.simulator.events.on('request', (request: { messages: Message[] }) => {
        prompts.set(request.messages[request.messages.length - 1].content, request.messages);
      });
    });
    afterAll(async () => {
      await stack?.close();
      await cleanup?.();
    });

    const createSession = async (headers = acme) => {
      const response = await postJson(`${stack.url}/v1/sessions`, {}, headers);
      expect(response.status).toBe(200);
      return response.body.id as string;
    };
    const getSession = (id: string, headers = acme) => getJson(`${stack.url}/v1/sessions/${id}`, headers);
    /** Runs one job of the session to its end; its turn is there as soon as the job is seen to end. */
    const runTurn = async (sessionId: string, messages: Message[], extra: Record<string, unknown> = {}) => {
      const before = (await getSession(sessionId)).body.messages.length;
      const response = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages, session_id: sessionId, ...extra }, acme);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ status: 'succeeded', session_id: sessionId });
      expect((await getSession(sessionId)).body.messages).toHaveLength(before + messages.length + 1);
      return response.body;
    };

    it('creates, reads and deletes a session; another tenant gets 404 as for a missing one', async () => {
      const before = Math.floor(Date.now() / 1000);
      const created = await postJson(`${stack.url}/v1/sessions`, {}, acme);
      expect(created.status).toBe(200);
      expect(created.body).toEqual({ id: expect.stringMatching(/^sess_[0-9A-Za-z]{20,}$/), object: 'session', created_at: expect.any(Number), messages: [] });
      expect(created.body.created_at).toBeGreaterThanOrEqual(before);
      const id = created.body.id;

      const fetched = await getSession(id);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual(created.body);

      const missing = await getSession('sess_0000000000000000000000000');
      expect(missing.status).toBe(404);
      expect(missing.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found', param: 'id' });
      for (const response of [await getSession(id, umbrella), await deleteJson(`${stack.url}/v1/sessions/${id}`, umbrella)]) {
        expect(response.status).toBe(404);
        expect(response.body).toEqual(missing.body);
      }
      expect((await getSession('not-an-id')).status).toBe(404);

      const deleted = await deleteJson(`${stack.url}/v1/sessions/${id}`, acme);
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ id, object: 'session.deleted', deleted: true });
      expect((await getSession(id)).status).toBe(404);
      expect((await deleteJson(`${stack.url}/v1/sessions/${id}`, acme)).status).toBe(404);
    });

    it('refuses a job naming a missing session, or another tenant’s, with 404 on session_id', async () => {
      const theirs = await createSession(umbrella);
      for (const sessionId of [theirs, 'sess_0000000000000000000000000', 'nonsense']) {
        const response = await postJson(`${stack.url}/v1/jobs`, { messages: [user('hi')], session_id: sessionId }, acme);
        expect(response.status).toBe(404);
        expect(response.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found', param: 'session_id' });
      }
      expect((await getSession(theirs, umbrella)).body.messages).toEqual([]);
    });

    it('puts the history before the job’s messages, oldest first, and appends each turn', async () => {
      const id = await createSession();
      const system = { role: 'system', content: 'You are terse.' };
      const first = await runTurn(id, [system, user('my name is Ann')]);
      expect(prompts.get('my name is Ann')).toEqual([system, user('my name is Ann')]);

      const second = await runTurn(id, [user('what is my name?')]);
      const reply = { role: 'assistant', content: first.result.content };
      expect(prompts.get('what is my name?')).toEqual([system, user('my name is Ann'), reply, user('what is my name?')]);

      const session = (await getSession(id)).body;
      expect(session.messages).toEqual([
        { ...system, created_at: first.created_at, job_id: first.id },
        { ...user('my name is Ann'), created_at: first.created_at, job_id: first.id },
        { ...reply, created_at: first.finished_at, job_id: first.id },
        { ...user('what is my name?'), created_at: second.created_at, job_id: second.id },
        { role: 'assistant', content: second.result.content, created_at: second.finished_at, job_id: second.id },
      ]);
    });

    it('drops the oldest whole turns to fit SPOOL_CONTEXT_TOKENS less the reply budget, keeping the system message', async () => {
      const id = await createSession();
      const system = { role: 'system', content: 'Answer in one sentence.' };
      const turns: Message[][] = [];
      for (const [index, question] of ['first question', 'second question', 'third question'].entries()) {
        const own = index === 0 ? [system, user(question)] : [user(question)];
        const job = await runTurn(id, own);
        turns.push([user(question), { role: 'assistant', content: job.result.content }]);
      }
      // A reply budget that leaves room for exactly the system message, the last turn and the new question.
      const kept = [system, ...turns[2], user('fourth question')];
      const maxTokens = CONTEXT_TOKENS - promptTokens(kept);
      expect(promptTokens([system, ...turns[1], ...turns[2], user('fourth question')])).toBeGreaterThan(CONTEXT_TOKENS - maxTokens);
      await runTurn(id, [user('fourth question')], { max_tokens: maxTokens });
      expect(prompts.get('fourth question')).toEqual(kept);

      // A budget too small for any turn keeps the system message and the job's own messages whole.
      await runTurn(id, [user('fifth question')], { max_tokens: CONTEXT_TOKENS - promptTokens([system, user('fifth question')]) + 1 });
      expect(prompts.get('fifth question')).toEqual([system, user('fifth question')]);
    });

    it('lands both of two racing turns on one session, in the order they ended', async () => {
      const id = await createSession();
      const slow = user('[[sim tokens=60 tps=20]] the slow one');
      const quick = user('[[sim tokens=3]] the quick one');
      // The slow job is streaming before the quick one is even submitted, so the quick one ends first.
      const slowJob = (await postJson(`${stack.url}/v1/jobs`, { messages: [slow], session_id: id }, acme)).body;
      const firstDelta = await readEvents(`${stack.url}${slowJob.stream_url}`, { headers: acme, limit: 3 });
      expect(firstDelta.at(-1)!.event).toBe('delta');
      const quickDone = (await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: [quick], session_id: id }, acme)).body;
      const slowEvents = await readEvents(`${stack.url}${slowJob.stream_url}`, { headers: acme });
      const slowDone = JSON.parse(slowEvents.at(-1)!.data);
      expect([slowDone.status, quickDone.status]).toEqual(['succeeded', 'succeeded']);
      // Both ran on the same (empty) history: neither had ended when the other started.
      expect(prompts.get(slow.content)).toEqual([slow]);
      expect(prompts.get(quick.content)).toEqual([quick]);

      const messages = (await getSession(id)).body.messages;
      expect(messages.map((message: { job_id: string }) => message.job_id)).toEqual([quickDone.id, quickDone.id, slowDone.id, slowDone.id]);
      expect(messages.map((message: Message) => message.content)).toEqual([quick.content, quickDone.result.content, slow.content, slowDone.result.content]);
    });

    it('answers GET /v1/jobs/{id} from the store once Redis has let the job go', async () => {
      const id = await createSession();
      const job = await runTurn(id, [user('remember me')]);
      await vi.waitFor(async () => expect(await stack.store.getJob(job.id, 'acme')).toEqual(job), { timeout: 10_000, interval: 20 });
      const keys = stack.api.deps.keys;
      expect(await stack.api.deps.redis.del(keys.job(job.id), keys.events(job.id))).toBe(2);

      const fetched = await getJson(`${stack.url}/v1/jobs/${job.id}`, acme);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual(job);
      expect(Object.keys(fetched.body)).toEqual(Object.keys(job));
      const theirs = await getJson(`${stack.url}/v1/jobs/${job.id}`, umbrella);
      expect(theirs.status).toBe(404);
      expect(theirs.body.error).toMatchObject({ code: 'not_found', param: 'id' });
      const usage = await stack.store.usage('acme');
      expect(usage.find((row) => row.model === job.model)?.completion_tokens).toBeGreaterThanOrEqual(job.result.usage.completion_tokens);
    });
  });
}

describe('a store that cannot be reached', () => {
  let stack: Stack;
  beforeAll(async () => {
    const port = await freePort();
    stack = await startStack({ env: { SPOOL_STORE_URL: `postgres://postgres@127.0.0.1:${port}/test` }, simulator: { tokensPerSecond: 2000 } });
  });
  afterAll(async () => stack?.close());

  it('makes /readyz answer 503 naming the store', async () => {
    const ready = await getJson(`${stack.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', checks: { redis: 'ok', store: 'down' } });
  });

  it('still accepts and finishes jobs', async () => {
    const response = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: [user('still here?')] });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('succeeded');
    expect((await getJson(`${stack.url}/v1/jobs/${response.body.id}`)).body).toEqual(response.body);
  });

  it('answers the session endpoints with 503, never a 500', async () => {
    const created = await postJson(`${stack.url}/v1/sessions`, {});
    expect(created.status).toBe(503);
    expect(created.body.error).toMatchObject({ type: 'api_error', code: 'unavailable' });
    expect(created.headers.get('retry-after')).toBeTruthy();
    const job = await postJson(`${stack.url}/v1/jobs`, { messages: [user('hi')], session_id: 'sess_0000000000000000000000000' });
    expect(job.status).toBe(503);
  });
});
