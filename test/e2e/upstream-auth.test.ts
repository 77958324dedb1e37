/**
 * Issue 12: upstream refusing Spool's own key is a gateway failure, not the tenant's. The job fails
 * at once with `upstream_auth_error` and a neutral message (upstream's words can quote the key);
 * the worker logs upstream's words for operators; the OpenAI door answers 502, not 401.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@spool/config';
import { UPSTREAM_AUTH_MESSAGE } from '@spool/llm';
import { messageText, type ChatMessage } from '@spool/simulator';
import { startStack, type Stack } from '../support/stack.js';
import { postJson } from '../support/http.js';

const messages = (content: string) => [{ role: 'user' as const, content }];

describe('an upstream that rejects Spool’s key', () => {
  let stack: Stack;
  const lines: Record<string, unknown>[] = [];
  const prompts: string[] = [];
  beforeAll(async () => {
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = createLogger({ name: 'spool', level: 'warn', destination });
    stack = await startStack({ logger, simulator: { tokensPerSecond: 1000 }, env: { SPOOL_BACKOFF_MS: '20' } });
    stack.simulator.events.on('request', (event: { messages: ChatMessage[] }) => prompts.push(event.messages.map(messageText).join('\n')));
  });
  afterAll(async () => stack?.close());

  const callsFor = (text: string) => prompts.filter((prompt) => prompt.includes(text)).length;

  it.each([401, 403])('fails a job at once on a %i: upstream_auth_error, a neutral message, upstream’s words only in the worker’s log', async (status) => {
    const text = `auth ${status} ${randomUUID()}`;
    const response = await postJson(`${stack.url}/v1/jobs?wait=30`, { messages: messages(`[[sim status=${status}]] ${text}`) });
    expect(response.body).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'upstream_auth_error', message: UPSTREAM_AUTH_MESSAGE } });
    expect(callsFor(text)).toBe(1);
    const logged = lines.find((line) => line.job_id === response.body.id && line.msg === 'job failed');
    expect(logged).toMatchObject({ level: 40, code: 'upstream_auth_error', status });
    expect(logged?.upstream_message).toMatch(/simulated/);
  });

  it('answers the OpenAI door with a 502 upstream_auth_error the SDK does not retry', async () => {
    const text = `door auth ${randomUUID()}`;
    const response = await postJson(`${stack.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: messages(`[[sim status=401]] ${text}`) });
    expect(response.status).toBe(502);
    expect(response.headers.get('x-should-retry')).toBe('false');
    expect(response.body.error).toEqual({ type: 'api_error', code: 'upstream_auth_error', message: UPSTREAM_AUTH_MESSAGE, param: null });

    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused-in-open-mode' });
    const sdkText = `sdk auth ${randomUUID()}`;
    const failure = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(`[[sim status=401]] ${sdkText}`) }).catch((thrown: unknown) => thrown);
    expect(failure).toBeInstanceOf(OpenAI.InternalServerError);
    expect(failure).toMatchObject({ status: 502, code: 'upstream_auth_error' });
    expect(callsFor(sdkText)).toBe(1);
  });
});
