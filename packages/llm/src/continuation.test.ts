import { describe, expect, it } from 'vitest';
import { continuationRequest } from './continuation.js';
import { countTokens } from './tokens.js';

describe('continuationRequest', () => {
  const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Write a haiku' }], max_tokens: 50, temperature: 0.5 };

  it('sends the messages, the text so far as the assistant, then exactly the continue prompt', () => {
    const next = continuationRequest(request, 'Queues hum at night');
    expect(next.messages).toEqual([
      { role: 'user', content: 'Write a haiku' },
      { role: 'assistant', content: 'Queues hum at night' },
      { role: 'user', content: 'Continue exactly where your previous message stopped. Do not repeat anything.' },
    ]);
    expect(next).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.5 });
    expect(request.messages).toHaveLength(1);
  });

  it('shrinks the token limit by the text already written within a job, and keeps it whole for a new job', () => {
    const text = 'Queues hum at night';
    expect(continuationRequest(request, text).max_tokens).toBe(50 - countTokens(text));
    expect(continuationRequest({ ...request, max_tokens: 2 }, text).max_tokens).toBe(1);
    expect(continuationRequest(request, text, true).max_tokens).toBe(50);
  });
});
