import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { countPromptTokens, messageText } from './messages.js';

describe('messages', () => {
  it('reads string content and text parts, and nothing from other parts', () => {
    expect(messageText({ role: 'user', content: 'plain' })).toBe('plain');
    expect(
      messageText({ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url' }, { type: 'text', text: 'b' }] }),
    ).toBe('ab');
    expect(messageText({ role: 'assistant', content: null })).toBe('');
  });

  it('counts prompt tokens as OpenAI does, special-token text included', () => {
    expect(countPromptTokens([{ role: 'user', content: 'hello world' }])).toBe(countTokens('hello world') + 3 + 3);
    expect(countPromptTokens([{ role: 'system', content: '' }, { role: 'user', content: 'say <|endoftext|>' }])).toBeGreaterThan(9);
  });
});

describe('countPromptTokens on hostile text', () => {
  it('counts 300 KB of one letter at a bounded cost (gpt-tokenizer alone takes about a minute)', () => {
    const started = performance.now();
    const tokens = countPromptTokens([{ role: 'user', content: 'a'.repeat(300_000) }]);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(tokens).toBeGreaterThan(300_000 / 16);
  });
});
