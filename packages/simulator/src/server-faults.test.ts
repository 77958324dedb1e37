import { once } from 'node:events';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { simulateReply } from './reply.js';
import { readContent, startSimulator } from './test-support.js';

const model = 'gpt-4o-mini';
const ask = (content: string): OpenAI.Chat.ChatCompletionMessageParam[] => [{ role: 'user', content }];

describe('simulator: faults asked for in a message', () => {
  it.each([
    [400, OpenAI.BadRequestError, 'invalid_request_error', null],
    [401, OpenAI.AuthenticationError, 'authentication_error', null],
    [403, OpenAI.PermissionDeniedError, 'permission_error', null],
    [404, OpenAI.NotFoundError, 'not_found_error', null],
    [409, OpenAI.ConflictError, 'api_error', null],
    [500, OpenAI.InternalServerError, 'server_error', null],
    [503, OpenAI.InternalServerError, 'server_error', null],
  ])('status=%i answers with the SDK error class and OpenAI error body', async (status, ErrorClass, type, code) => {
    const { client, simulator } = await startSimulator();
    const error = await client.chat.completions.create({ model, messages: ask(`[[sim status=${status}]]`) }).catch((caught) => caught);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toMatchObject({ status, type, code, param: null });
    expect(error.headers.get('x-request-id')).toMatch(/^req_/);
    expect(simulator.stats).toMatchObject({ requests: 1, faulted: 1, completed: 0 });
  });

  it('status=429 with retry_after_ms sets the retry headers, and code= overrides the code', async () => {
    const { client } = await startSimulator();
    const limited = await client.chat.completions
      .create({ model, messages: ask('[[sim status=429 retry_after_ms=1500]]'), stream: true })
      .catch((caught) => caught);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited).toMatchObject({ status: 429, type: 'requests', code: 'rate_limit_exceeded' });
    expect(limited.headers.get('retry-after-ms')).toBe('1500');
    expect(limited.headers.get('retry-after')).toBe('2');

    const quota = await client.chat.completions
      .create({ model, messages: ask('[[sim status=429 code=insufficient_quota]]') })
      .catch((caught) => caught);
    expect(quota).toBeInstanceOf(OpenAI.RateLimitError);
    expect(quota).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    expect(quota.headers.get('retry-after')).toBeNull();
  });

  it('break=N cuts the socket after N content chunks; the SDK stream throws', async () => {
    const { client, simulator } = await startSimulator();
    const messages = ask('[[sim break=3]]');
    const result = await readContent(await client.chat.completions.create({ model, messages, stream: true }));
    expect(result.error).toBeInstanceOf(Error);
    expect(result.content).toBe(simulateReply({ model, messages }).tokens.slice(0, 3).join(''));
    expect(result.finishReason).toBeUndefined();
    await expect(client.chat.completions.create({ model, messages })).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    expect(simulator.stats).toMatchObject({ requests: 2, faulted: 2, completed: 0, aborted: 0 });
  });

  it('truncate=N ends cleanly with [DONE] but never sends a finish_reason', async () => {
    const { client, simulator } = await startSimulator();
    const result = await readContent(await client.chat.completions.create({ model, messages: ask('[[sim truncate=4]]'), stream: true }));
    expect(result.error).toBeUndefined();
    expect(result.chunks).toBe(4);
    expect(result.finishReason).toBeUndefined();
    expect(simulator.stats).toMatchObject({ faulted: 1, completed: 0, aborted: 0 });
  });

  it('stall=N keeps the connection open until the client aborts, then emits aborted', async () => {
    const { client, simulator } = await startSimulator();
    const stream = await client.chat.completions.create({ model, messages: ask('[[sim stall=2]]'), stream: true });
    const aborted = once(simulator.events, 'aborted');
    let content = 0;
    const reading = (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content && ++content === 2) stream.controller.abort();
      }
    })();
    // The SDK ends an aborted stream's iteration quietly.
    await reading;
    expect(content).toBe(2);
    const [event] = await aborted;
    expect(event).toEqual({ id: expect.stringMatching(/^req_/), chunksSent: 2 });
    expect(simulator.stats).toMatchObject({ faulted: 1, aborted: 1, active: 0 });
  });

  it('stall_ms=M resumes the stream after M ms', async () => {
    const { client } = await startSimulator();
    const messages = ask('[[sim stall=2 stall_ms=60 tokens=5]]');
    const started = Date.now();
    const result = await readContent(await client.chat.completions.create({ model, messages, stream: true }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(result).toMatchObject({ content: simulateReply({ model, messages }).content, finishReason: 'stop' });
  });

  it('aborting a non-streaming request that waits for its body counts as aborted', async () => {
    const { client, simulator } = await startSimulator();
    const controller = new AbortController();
    const aborted = once(simulator.events, 'aborted');
    const requested = once(simulator.events, 'request');
    const pending = client.chat.completions.create({ model, messages: ask('[[sim stall=0]]') }, { signal: controller.signal });
    await requested;
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    expect((await aborted)[0]).toMatchObject({ chunksSent: 0 });
  });

  it('times=K faults only the first K requests carrying the same directive', async () => {
    const { client, simulator } = await startSimulator();
    const messages = ask('[[sim status=503 times=1]]');
    await expect(client.chat.completions.create({ model, messages })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    const served = await client.chat.completions.create({ model, messages });
    expect(served.choices[0].message.content).toBe(simulateReply({ model, messages }).content);
    const other = ask('other text [[sim status=503 times=1]]');
    await expect(client.chat.completions.create({ model, messages: other })).resolves.toBeTruthy();
    expect(simulator.stats).toMatchObject({ requests: 3, faulted: 1, completed: 2 });
  });
});

describe('simulator: one instance of several, with faults and models of its own', () => {
  it('on=NAME faults only the instance of that name; the other answers the same request', async () => {
    const a = await startSimulator({ name: 'a' });
    const b = await startSimulator({ name: 'b' });
    const messages = ask('[[sim status=503 on=a]] which one?');
    await expect(a.client.chat.completions.create({ model, messages })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    const served = await b.client.chat.completions.create({ model, messages });
    expect(served.choices[0].message.content).toBe(simulateReply({ model, messages }).content);
  });

  it('faultStatus answers every chat completion with that status', async () => {
    const { client, simulator } = await startSimulator({ faultStatus: 500 });
    for (let call = 0; call < 2; call++) {
      await expect(client.chat.completions.create({ model, messages: ask(`down ${call}`) })).rejects.toMatchObject({ status: 500, type: 'server_error' });
    }
    expect(simulator.stats).toMatchObject({ requests: 2, faulted: 2, completed: 0 });
  });

  it('breakAfter cuts every stream after N chunks, leaving the reply a strict prefix', async () => {
    const { client } = await startSimulator({ breakAfter: 4 });
    const messages = ask('[[sim tokens=10]] always cut');
    const result = await readContent(await client.chat.completions.create({ model, messages, stream: true }));
    expect(result.error).toBeInstanceOf(Error);
    expect(result.content).toBe(simulateReply({ model, messages }).tokens.slice(0, 4).join(''));
  });

  it('models: lists only those and answers any other with 404 model_not_found', async () => {
    const { client } = await startSimulator({ models: ['gpt-4o'] });
    expect((await client.models.list()).data.map((entry) => entry.id)).toEqual(['gpt-4o']);
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: ask('served') })).resolves.toBeTruthy();
    const missing = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ask('not served') }).catch((caught) => caught);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: 'model_not_found' });
  });
});
