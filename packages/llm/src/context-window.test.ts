import { describe, expect, it } from 'vitest';
import { contextWindow, DEFAULT_CONTEXT_TOKENS } from './context-window.js';

describe('contextWindow', () => {
  it('knows model families, dated variants included, and falls back to 128000', () => {
    expect(contextWindow('gpt-4o-mini')).toBe(128_000);
    expect(contextWindow('gpt-4o-2024-08-06')).toBe(128_000);
    expect(contextWindow('gpt-4.1-mini-2025-04-14')).toBe(1_047_576);
    expect(contextWindow('gpt-4-0613')).toBe(8_192);
    expect(contextWindow('o4-mini')).toBe(200_000);
    expect(contextWindow('llama3:8b')).toBe(DEFAULT_CONTEXT_TOKENS);
  });
});
