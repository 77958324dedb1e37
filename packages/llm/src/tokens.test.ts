import { randomBytes } from 'node:crypto';
import { countTokens as library } from 'gpt-tokenizer';
import { beforeAll, describe, expect, it } from 'vitest';
import { countPromptTokens, countTokens, uncountedPromptTokens } from './tokens.js';

const prose =
  'Spool is a queue-backed gateway for LLM chat jobs. Clients submit chat requests over REST; an Express API enqueues them ' +
  'into BullMQ on Redis, and workers call any OpenAI-compatible endpoint, surviving rate limits (HTTP 429) and faults. ' +
  "It's been running since 2024-11-02 at 03:14:15 UTC — about 1,234,567 jobs, or roughly 98.6% of them on time!\n\n";
const code = 'export function add(a: number, b: number): number {\n  return a + b; // sum\n}\nconst x = { "key": [1, 2, 3], url: "https://example.com/a/b?c=d" };\n';
const chinese = '队列把聊天请求交给工作进程，工作进程调用上游接口。遇到限流时，它会等待，然后重试；用户看到的文本只会追加。';
const emoji = 'Launch day 🚀🎉 — the team 👩‍💻👨‍💻 shipped it; thanks 🙏 and see you at 9:30 ☕️.';

const elapsed = (work: () => unknown) => {
  const started = performance.now();
  work();
  return performance.now() - started;
};

beforeAll(() => {
  // The first call compiles the tokenizer's Unicode regex; time only the calls after it.
  countTokens(prose + chinese + emoji);
});

describe('countTokens', () => {
  it('is exact, as gpt-tokenizer counts, on ordinary texts up to 4 KiB', () => {
    for (const text of ['', 'hi', prose, code, chinese, emoji, (prose + code + chinese + emoji).repeat(6).slice(0, 4096)]) {
      expect(countTokens(text)).toBe(library(text));
    }
  });

  it('counts special-token text as plain text, as OpenAI does, instead of throwing', () => {
    const text = 'say <|endoftext|> and <|im_start|>';
    expect(countTokens(text)).toBe(library(text, { disallowedSpecial: new Set() }));
  });

  it('counts pathological texts in linear time: a run of one letter, symbol, space or mark, CJK without punctuation, base64', () => {
    const texts = {
      letters: 'a'.repeat(300_000),
      symbols: '!/'.repeat(150_000),
      spaces: ' '.repeat(300_000),
      marks: 'a' + '\u0301'.repeat(299_999),
      cjk: '中文'.repeat(150_000),
      base64: randomBytes(750_000).toString('base64'),
      'one repeated piece': '!/\n'.repeat(333_333),
    };
    for (const [name, text] of Object.entries(texts)) {
      expect({ name, fast: elapsed(() => countTokens(text)) < 1000 }).toEqual({ name, fast: true });
    }
    // 8 `a`s make a token; a run cut in pieces of 64 keeps that.
    expect(countTokens(texts.letters)).toBe(300_000 / 8);
  });

  it('estimates a long text within a few percent', () => {
    for (const text of [prose.repeat(3000), (chinese + emoji).repeat(5000), randomBytes(300_000).toString('base64')]) {
      const exact = library(text);
      expect(Math.abs(countTokens(text) - exact) / exact).toBeLessThan(0.03);
    }
  });
});

describe('countPromptTokens', () => {
  const message = (content: string) => ({ role: 'user' as const, content });

  it('is the texts plus 3 tokens per message and 3 to prime the reply, exact for short prompts', () => {
    expect(countPromptTokens([])).toBe(3);
    expect(countPromptTokens([message(prose), { role: 'user', content: [{ type: 'text', text: chinese }] }])).toBe(3 + 3 + library(prose) + 3 + library(chinese));
  });

  it('costs no more for 1 MB in many messages than in one', () => {
    const messages = Array.from({ length: 250 }, () => message(randomBytes(3000).toString('base64')));
    expect(elapsed(() => countPromptTokens(messages))).toBeLessThan(1000);
    const exact = 3 + messages.reduce((sum, each) => sum + 3 + library(each.content), 0);
    expect(Math.abs(countPromptTokens(messages) - exact) / exact).toBeLessThan(0.03);
  });
});

describe('uncountedPromptTokens', () => {
  const user = { role: 'user' as const, content: 'hi' };
  it('is nothing for messages of text alone, and counts tools, tool calls, a response schema and non-text parts as their JSON', () => {
    expect(uncountedPromptTokens({ messages: [user, { role: 'user', content: [{ type: 'text', text: 'more' }] }], response_format: { type: 'json_object' } })).toBe(0);
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
    expect(uncountedPromptTokens({ messages: [user], tools })).toBe(countTokens(JSON.stringify(tools)));
    const schema = { name: 'answer', schema: { type: 'object' } };
    expect(uncountedPromptTokens({ messages: [user], response_format: { type: 'json_schema', json_schema: schema } })).toBe(countTokens(JSON.stringify(schema)));
    const call = { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] };
    const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
    expect(uncountedPromptTokens({ messages: [{ role: 'assistant', content: null, ...call }, { role: 'user', content: [{ type: 'text', text: 'see' }, image] }] })).toBe(
      countTokens(`${JSON.stringify(call)}\n${JSON.stringify(image)}`),
    );
  });
});
