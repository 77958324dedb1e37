import { once } from 'node:events';
import { countTokens } from 'gpt-tokenizer';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { simulateReply } from './reply.js';
import { collect, readContent, startSimulator } from './test-support.js';

const model = 'gpt-4o-mini';
const ask = (content: string): OpenAI.Chat.ChatCompletionMessageParam[] => [{ role: 'user', content }];

describe('simulator: replies', () => {
  it('answers the same request with the same text and a different one differently', async () => {
    const { client } = await startSimulator();
    const first = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });
    const again = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });
    const other = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'goodbye' }] });
    expect(again.choices[0].message.content).toBe(first.choices[0].message.content);
    expect(other.choices[0].message.content).not.toBe(first.choices[0].message.content);
    expect(first.choices[0].message.content).toBe(simulateReply({ model, messages: ask('hello') }).content);
  });

  it('sends a non-streaming chat.completion with usage and an x-request-id', async () => {
    const { client } = await startSimulator();
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi [[sim tokens=5]]' }] })
      .withResponse();
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const promptTokens = countTokens('be brief') + countTokens('hi [[sim tokens=5]]') + 2 * 3 + 3;
    expect(data).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      created: expect.any(Number),
      model,
      system_fingerprint: expect.any(String),
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: expect.any(String), refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: 5, total_tokens: promptTokens + 5 },
    });
  });

  it('streams OpenAI-shaped chunks, a usage chunk when asked, and [DONE]', async () => {
    const { client } = await startSimulator();
    const messages = ask('stream please [[sim tokens=6]]');
    const chunks = await collect(
      await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } }),
    );
    expect(chunks).toHaveLength(1 + 6 + 1 + 1);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    for (const chunk of chunks) expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model, created: expect.any(Number) });
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    const tokens = chunks.slice(1, 7).map((chunk) => chunk.choices[0].delta.content);
    expect(tokens).toEqual(simulateReply({ model, messages }).tokens);
    expect(chunks[7].choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(chunks.slice(0, 8).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks[8]).toMatchObject({ choices: [], usage: { completion_tokens: 6 } });
  });

  it('writes SSE lines ending in data: [DONE] and leaves usage out unless asked', async () => {
    const { baseURL } = await startSimulator();
    const response = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: ask('raw [[sim tokens=3]]'), stream: true }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const events = (await response.text()).split('\n\n');
    expect(events.pop()).toBe('');
    expect(events.pop()).toBe('data: [DONE]');
    const chunks = events.map((event) => JSON.parse(event.replace(/^data: /, '')));
    expect(chunks).toHaveLength(5);
    for (const chunk of chunks) expect(chunk).not.toHaveProperty('usage');
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const { client } = await startSimulator();
    const messages = ask('long [[sim tokens=40]]');
    const cut = await client.chat.completions.create({ model, messages, max_tokens: 7 });
    expect(cut.choices[0].finish_reason).toBe('length');
    expect(cut.usage?.completion_tokens).toBe(7);
    const streamed = await readContent(await client.chat.completions.create({ model, messages, max_completion_tokens: 7, stream: true }));
    expect(streamed).toMatchObject({ chunks: 7, finishReason: 'length', content: cut.choices[0].message.content });
  });

  it('continues a broken stream so that the parts join into the uninterrupted reply', async () => {
    const { client } = await startSimulator();
    const messages = ask('Tell me a story. [[sim break=5 times=1]]');
    const broken = await readContent(await client.chat.completions.create({ model, messages, stream: true }));
    expect(broken.error).toBeInstanceOf(Error);
    expect(broken.chunks).toBe(5);
    const resumed = await readContent(
      await client.chat.completions.create({
        model,
        messages: [...messages, { role: 'assistant', content: broken.content }, { role: 'user', content: 'continue' }],
        stream: true,
      }),
    );
    expect(resumed.error).toBeUndefined();
    expect(resumed.finishReason).toBe('stop');
    expect(broken.content + resumed.content).toBe(simulateReply({ model, messages }).content);
  });

  it('continues from the middle of a token', async () => {
    const { client } = await startSimulator();
    const messages = ask('Tell me another story.');
    const full = simulateReply({ model, messages });
    const partial = full.content.slice(0, full.tokens[0].length + full.tokens[1].length - 2);
    const stream = await client.chat.completions.create({ model, messages: [...messages, { role: 'assistant', content: partial }], stream: true });
    const rest = await readContent(stream);
    expect(rest.content).toBe(full.content.slice(partial.length));
    expect(rest.chunks).toBe(full.tokens.length - 1);
  });

  it('paces the first token at ttft and the rest at tokens per second', async () => {
    const { client, simulator } = await startSimulator({ ttftMs: 100, tokensPerSecond: 100 });
    const started = Date.now();
    const stream = await client.chat.completions.create({ model, messages: ask('slow [[sim tokens=10]]'), stream: true });
    const times: number[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) times.push(Date.now() - started);
    expect(times).toHaveLength(10);
    expect(times[0]).toBeGreaterThanOrEqual(95);
    // Against the start, not the first token: a first token read late on a busy machine shortens the gap after it.
    expect(times[9]).toBeGreaterThanOrEqual(185);

    const fast = Date.now();
    await client.chat.completions.create({ model, messages: ask('quick [[sim tokens=50 ttft=0 tps=0]]') });
    // The server's own pace would take 100 ms + 50 × 10 ms.
    expect(Date.now() - fast).toBeLessThan(500);
    expect(simulator.stats).toMatchObject({ requests: 2, completed: 2, active: 0 });
  });

  it('spaces writes out past the write budget, several tokens a write, none lost or reordered', async () => {
    const { baseURL } = await startSimulator({ tokensPerSecond: 400, maxWritesPerSecond: 20 });
    const messages = ask('budget [[sim tokens=40]]');
    const response = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, stream: true }),
    });
    let text = '';
    let reads = 0;
    for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
      text += Buffer.from(bytes).toString('utf8');
      reads++;
    }
    // 40 tokens at 400/s take 100 ms; one stream on 20 writes/s writes every 50 ms.
    expect(reads).toBeLessThanOrEqual(6);
    const contents = text
      .split('\n\n')
      .filter((event) => event.startsWith('data: {'))
      .map((event) => JSON.parse(event.slice(6)).choices[0]?.delta.content)
      .filter(Boolean);
    expect(contents).toEqual(simulateReply({ model, messages }).tokens);
  });

  it('emits request and completed events', async () => {
    const { client, simulator } = await startSimulator();
    const requested = once(simulator.events, 'request');
    const completed = once(simulator.events, 'completed');
    await client.chat.completions.create({ model, messages: ask('events [[sim tokens=2]]'), stream: false });
    const [request] = await requested;
    expect(request).toMatchObject({ id: expect.stringMatching(/^req_/), model, stream: false, directive: { tokens: 2 } });
    expect(await completed).toEqual([{ id: request.id, finishReason: 'stop' }]);
  });
});

describe('simulator: endpoints and errors', () => {
  it('lists models', async () => {
    const { client } = await startSimulator();
    const models = await client.models.list();
    expect(models.data.map((entry) => entry.id)).toEqual(['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-4.1', 'o4-mini']);
    expect(models.data[0]).toEqual({ id: 'gpt-4o-mini', object: 'model', created: expect.any(Number), owned_by: 'spool-simulator' });
  });

  it('serves its stats at /sim/stats', async () => {
    const { client, baseURL } = await startSimulator();
    await client.chat.completions.create({ model, messages: ask('count me') });
    const response = await fetch(new URL('/sim/stats', baseURL));
    expect(await response.json()).toEqual({ requests: 1, completed: 1, rateLimited: 0, faulted: 0, aborted: 0, active: 0 });
  });

  it('answers 400 to bad JSON, missing messages and a bad directive', async () => {
    const { client, baseURL } = await startSimulator();
    const post = (body: string) => fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    for (const body of ['{not json', JSON.stringify({ model }), JSON.stringify({ model, messages: [] })]) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(response.headers.get('x-request-id')).toBeTruthy();
      expect(await response.json()).toEqual({
        error: { message: expect.any(String), type: 'invalid_request_error', param: 'messages', code: null },
      });
    }
    const error = await client.chat.completions.create({ model, messages: ask('[[sim brake=1]]') }).catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.message).toMatch(/unknown key "brake"/);
  });

  it('answers 404 to an unknown path', async () => {
    const { baseURL } = await startSimulator();
    const response = await fetch(`${baseURL}/embeddings`, { method: 'POST' });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { message: 'Invalid URL (POST /v1/embeddings)', type: 'invalid_request_error', param: null, code: null },
    });
  });

  it('checks the bearer key when one is set', async () => {
    const { client, baseURL } = await startSimulator({ apiKey: 'sk-right' });
    await expect(client.chat.completions.create({ model, messages: ask('hi') })).resolves.toBeTruthy();
    const wrong = new OpenAI({ baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
    const error = await wrong.models.list().catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.code).toBe('invalid_api_key');
  });

  it('closes open streams and connections on close()', async () => {
    const { client, simulator } = await startSimulator();
    const stream = await client.chat.completions.create({ model, messages: ask('[[sim stall=1]]'), stream: true });
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next();
    expect((await chunks.next()).value?.choices[0].delta.content).toBeTruthy();
    await simulator.close();
    await expect(chunks.next()).rejects.toThrow();
    expect(simulator.stats).toMatchObject({ active: 0, aborted: 0 });
  });
});
