/** Context windows of models we know, in tokens; a dated variant (`gpt-4o-2024-08-06`) counts as its family. */
const CONTEXT_WINDOWS: Record<string, number> = {
  'gpt-3.5-turbo': 16_385,
  'gpt-4': 8_192,
  'gpt-4-32k': 32_768,
  'gpt-4-turbo': 128_000,
  'gpt-4o': 128_000,
  'gpt-4o-mini': 128_000,
  'gpt-4.1': 1_047_576,
  'gpt-4.1-mini': 1_047_576,
  'gpt-4.1-nano': 1_047_576,
  'gpt-5': 400_000,
  'gpt-5-mini': 400_000,
  'gpt-5-nano': 400_000,
  o1: 200_000,
  'o1-mini': 128_000,
  o3: 200_000,
  'o3-mini': 200_000,
  'o4-mini': 200_000,
};

/** The window of a model we do not know (API.md §1). */
export const DEFAULT_CONTEXT_TOKENS = 128_000;

const FAMILIES = Object.keys(CONTEXT_WINDOWS).sort((a, b) => b.length - a.length);

/** The model's context window: its own or its family's (the longest matching name), else 128000. */
export function contextWindow(model: string): number {
  const family = FAMILIES.find((name) => model === name || model.startsWith(`${name}-`));
  return family ? CONTEXT_WINDOWS[family] : DEFAULT_CONTEXT_TOKENS;
}
