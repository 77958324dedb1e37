import type { ModelSettings } from './config-file.js';

export interface TokenCounts {
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * What `tokens` of `model` cost in USD at the prices of SPOOL_CONFIG's `models` (a model without
 * prices costs nothing); `discount` scales it (a provider batch's `batch_discount`).
 */
export function costUsd(models: Map<string, ModelSettings>, model: string, tokens: TokenCounts, discount = 1): number {
  const prices = models.get(model);
  if (!prices) return 0;
  return ((tokens.prompt_tokens * prices.inputUsdPerMtok + tokens.completion_tokens * prices.outputUsdPerMtok) / 1_000_000) * discount;
}
