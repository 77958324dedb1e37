import type { ChatMessage, UpstreamRequest } from '@spool/contracts';
import { countTokens } from './tokens.js';

const CONTINUE_PROMPT = 'Continue exactly where your previous message stopped. Do not repeat anything.';

/**
 * The request that picks up after `textSoFar`: the original messages, the text as an
 * assistant message, and a request to go on. Within one job (a retry) token limits shrink by
 * what was already written; a new job asked to continue (`freshBudget`) gets the full limit again.
 */
export function continuationRequest(request: UpstreamRequest, textSoFar: string, freshBudget = false): UpstreamRequest {
  const used = freshBudget ? 0 : countTokens(textSoFar);
  const messages: ChatMessage[] = [
    ...request.messages,
    { role: 'assistant', content: textSoFar },
    { role: 'user', content: CONTINUE_PROMPT },
  ];
  const next: UpstreamRequest = { ...request, messages };
  for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
    const limit = request[field];
    if (typeof limit === 'number') next[field] = Math.max(1, limit - used);
  }
  return next;
}
