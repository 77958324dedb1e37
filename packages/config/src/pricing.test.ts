import { describe, expect, it } from 'vitest';
import { costUsd } from './pricing.js';

const models = new Map([['gpt-4o', { inputUsdPerMtok: 2.5, outputUsdPerMtok: 10, fallbacks: [], batchDiscount: 0.5 }]]);

describe('costUsd', () => {
  it('prices prompt and completion tokens per million', () => {
    expect(costUsd(models, 'gpt-4o', { prompt_tokens: 1_000_000, completion_tokens: 100_000 })).toBeCloseTo(3.5, 10);
  });
  it('applies a discount, and prices an unpriced model at nothing', () => {
    expect(costUsd(models, 'gpt-4o', { prompt_tokens: 1_000_000, completion_tokens: 0 }, 0.5)).toBeCloseTo(1.25, 10);
    expect(costUsd(models, 'other', { prompt_tokens: 5, completion_tokens: 5 })).toBe(0);
  });
});
