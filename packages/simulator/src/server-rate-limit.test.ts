import { once } from 'node:events';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { startSimulator } from './test-support.js';

const model = 'gpt-4o-mini';
const ask = (content: string): OpenAI.Chat.ChatCompletionMessageParam[] => [{ role: 'user', content }];

describe('simulator: rate limits', () => {
  it('allows floor(rpm / 12) + 1 requests in 5 s, then answers 429 with OpenAI headers', async () => {
    const { client, simulator } = await startSimulator({ rpm: 24 });
    for (const remaining of ['23', '22', '21']) {
      const { response } = await client.chat.completions.create({ model, messages: ask('hi') }).withResponse();
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('24');
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe(remaining);
      expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+m)?\d+(\.\d+)?m?s$/);
      expect(response.headers.get('x-ratelimit-limit-tokens')).toBeNull();
    }
    const rateLimited = once(simulator.events, 'rate_limited');
    const error = await client.chat.completions.create({ model, messages: ask('[[sim status=500]]') }).catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
    expect(error.error.message).toMatch(/^Rate limit reached for requests/);
    const retryAfterMs = Number(error.headers.get('retry-after-ms'));
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(5000);
    expect(error.headers.get('retry-after')).toBe(String(Math.ceil(retryAfterMs / 1000)));
    expect(error.headers.get('x-ratelimit-remaining-requests')).toBe('21');
    expect((await rateLimited)[0]).toEqual({ id: error.headers.get('x-request-id') });
    expect(simulator.stats).toMatchObject({ requests: 4, completed: 3, rateLimited: 1, faulted: 0 });
  });

  it('counts prompt plus max_tokens against tpm, with type tokens', async () => {
    const { client } = await startSimulator({ tpm: 1200 });
    const { response } = await client.chat.completions.create({ model, messages: ask('hi'), max_tokens: 80 }).withResponse();
    // "hi" is one token: 1 + 3 + 3 prompt tokens plus 80 reserved for the reply.
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(1200 - 87));
    expect(response.headers.get('x-ratelimit-limit-requests')).toBeNull();
    const error = await client.chat.completions.create({ model, messages: ask('hi'), max_tokens: 80 }).catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded' });
    expect(error.error.message).toMatch(/^Rate limit reached for tokens/);
    expect(Number(error.headers.get('retry-after-ms'))).toBeLessThanOrEqual(5000);
    expect(error.headers.get('x-ratelimit-limit-tokens')).toBe('1200');
  });

  it('neither faults a rate-limited request nor counts it toward times', async () => {
    const { client } = await startSimulator({ tpm: 1000 });
    const messages = ask('[[sim status=500 times=1]]');
    const tooBig = await client.chat.completions.create({ model, messages, max_tokens: 5000 }).catch((caught) => caught);
    expect(tooBig).toBeInstanceOf(OpenAI.RateLimitError);
    await expect(client.chat.completions.create({ model, messages, max_tokens: 5 })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    await expect(client.chat.completions.create({ model, messages, max_tokens: 5 })).resolves.toBeTruthy();
  });
});
