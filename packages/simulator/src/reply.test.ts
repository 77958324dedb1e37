import { describe, expect, it } from 'vitest';
import type { ChatMessage } from './messages.js';
import { simulateReply } from './reply.js';

const model = 'gpt-4o-mini';
const ask = (content: string): ChatMessage[] => [{ role: 'user', content }];

describe('simulateReply', () => {
  it('is a deterministic function of model, messages and seed', () => {
    const base = simulateReply({ model, messages: ask('hello') });
    expect(simulateReply({ model, messages: ask('hello') })).toEqual(base);
    expect(simulateReply({ model, messages: ask('hello!') }).content).not.toBe(base.content);
    expect(simulateReply({ model: 'gpt-4o', messages: ask('hello') }).content).not.toBe(base.content);
    expect(simulateReply({ model, messages: ask('hello'), seed: 7 }).content).not.toBe(base.content);
  });

  it('reads text parts like a string', () => {
    const parts = simulateReply({ model, messages: [{ role: 'user', content: [{ type: 'text', text: 'hel' }, { type: 'text', text: 'lo' }] }] });
    expect(parts).toEqual(simulateReply({ model, messages: ask('hello') }));
  });

  it('writes 20 to 60 word tokens in sentences of 5 to 15 words', () => {
    for (let index = 0; index < 100; index++) {
      const { tokens, content, finishReason } = simulateReply({ model, messages: ask(`prompt ${index}`) });
      expect(tokens.length).toBeGreaterThanOrEqual(20);
      expect(tokens.length).toBeLessThanOrEqual(60);
      expect(finishReason).toBe('stop');
      expect(tokens[0]).toMatch(/^[A-Z][a-z]*$/);
      for (const token of tokens.slice(1)) expect(token).toMatch(/^ [A-Za-z]+\.?$/);
      expect(content).toBe(tokens.join(''));
      expect(content.endsWith('.')).toBe(true);
      const sentences = content.split('.').slice(0, -1).map((sentence) => sentence.trim().split(' ').length);
      for (const words of sentences.slice(0, -1)) {
        expect(words).toBeGreaterThanOrEqual(5);
        expect(words).toBeLessThanOrEqual(15);
      }
      expect(sentences.at(-1)).toBeLessThanOrEqual(15);
    }
  });

  it('obeys tokens=N and cuts at max_tokens or max_completion_tokens with finish_reason length', () => {
    expect(simulateReply({ model, messages: ask('[[sim tokens=3]]') }).tokens).toHaveLength(3);
    const full = simulateReply({ model, messages: ask('x [[sim tokens=30]]') });
    const cut = simulateReply({ model, messages: ask('x [[sim tokens=30]]'), max_tokens: 10 });
    expect(cut).toEqual({ tokens: full.tokens.slice(0, 10), content: full.tokens.slice(0, 10).join(''), finishReason: 'length' });
    expect(simulateReply({ model, messages: ask('x [[sim tokens=30]]'), max_completion_tokens: 30 }).finishReason).toBe('stop');
  });

  it('continues after a partial assistant message, mid-token included', () => {
    const messages = ask('tell me something');
    const full = simulateReply({ model, messages });
    for (const cut of [1, 7, full.tokens[0].length, full.content.length - 1]) {
      const partial = full.content.slice(0, cut);
      const rest = simulateReply({
        model,
        messages: [...messages, { role: 'assistant', content: partial }, { role: 'user', content: 'continue' }],
      });
      expect(partial + rest.content).toBe(full.content);
      expect(rest.tokens.slice(1)).toEqual(full.tokens.slice(full.tokens.length - rest.tokens.length + 1));
    }
  });

  it('counts max_tokens in emitted chunks after a continuation', () => {
    const messages = ask('tell me something');
    const full = simulateReply({ model, messages });
    const partial = full.content.slice(0, full.tokens[0].length + 2);
    const rest = simulateReply({ model, messages: [...messages, { role: 'assistant', content: partial }], max_tokens: 2 });
    expect(rest.tokens).toEqual([full.tokens[1].slice(2), full.tokens[2]]);
    expect(rest.finishReason).toBe('length');
  });

  it('continues twice when each partial is appended as its own turn', () => {
    const messages = ask('a long story');
    const full = simulateReply({ model, messages });
    const first = full.content.slice(0, 20);
    const afterFirst: ChatMessage[] = [...messages, { role: 'assistant', content: first }, { role: 'user', content: 'continue' }];
    const second = simulateReply({ model, messages: afterFirst }).content.slice(0, 15);
    const rest = simulateReply({ model, messages: [...afterFirst, { role: 'assistant', content: second }, { role: 'user', content: 'continue' }] });
    expect(first + second + rest.content).toBe(full.content);
  });

  it('answers a new turn afresh when the assistant message is a whole reply or not a prefix', () => {
    const messages = ask('hello');
    const full = simulateReply({ model, messages });
    for (const assistant of [full.content, 'Something else entirely.']) {
      const next = simulateReply({ model, messages: [...messages, { role: 'assistant', content: assistant }, { role: 'user', content: 'and?' }] });
      expect(next.tokens.length).toBeGreaterThanOrEqual(20);
      expect(full.content.endsWith(next.content)).toBe(false);
    }
  });
});
