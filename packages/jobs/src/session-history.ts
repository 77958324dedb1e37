import { setImmediate } from 'node:timers/promises';
import type { ChatMessage, UpstreamRequest } from '@spool/contracts';
import { contextWindow, countPromptTokens } from '@spool/llm';
import type { SessionMessage } from '@spool/store';

/** Tokens kept for the reply when the request sets no limit, at most a quarter of the window. */
const DEFAULT_REPLY_TOKENS = 4096;

/** Tokens the prompt may take: the context budget less what the reply may take. */
export function promptBudget(request: UpstreamRequest, contextTokens = contextWindow(request.model)): number {
  const limit = request.max_completion_tokens ?? request.max_tokens;
  const reply = typeof limit === 'number' ? limit : Math.min(DEFAULT_REPLY_TOKENS, Math.floor(contextTokens / 4));
  return contextTokens - reply;
}

const isInstruction = (message: ChatMessage) => message.role === 'system' || message.role === 'developer';

/**
 * Splits history into the units dropped together: one job's messages, cut before each further
 * user message, so a question goes with its answer (and any tool messages between).
 */
function turnsOf(history: SessionMessage[]): ChatMessage[][] {
  const turns: ChatMessage[][] = [];
  let jobId: string | null = null;
  let hasUser = false;
  for (const entry of history) {
    if (entry.job_id !== jobId || (entry.message.role === 'user' && hasUser)) {
      turns.push([]);
      jobId = entry.job_id;
      hasUser = false;
    }
    turns[turns.length - 1].push(entry.message);
    hasUser ||= entry.message.role === 'user';
  }
  return turns;
}

/**
 * The session's history put before the job's own messages, oldest turns dropped first until the
 * whole fits `budget` tokens. Messages are never cut, the history's leading system or developer
 * messages and all of the job's own are always kept.
 */
export async function withHistory(history: SessionMessage[], own: ChatMessage[], budget: number): Promise<ChatMessage[]> {
  let pinned = 0;
  while (pinned < history.length && isInstruction(history[pinned].message)) pinned++;
  const lead = history.slice(0, pinned).map((entry) => entry.message);
  const turns = turnsOf(history.slice(pinned));
  let total = countPromptTokens([...lead, ...own]);
  let first = turns.length;
  // Newest first, a turn per turn of the event loop: only what fits is counted, and a long
  // session never holds the worker's loop.
  while (first > 0) {
    const tokens = countPromptTokens(turns[first - 1]) - countPromptTokens([]);
    if (total + tokens > budget) break;
    total += tokens;
    first--;
    await setImmediate();
  }
  return [...lead, ...turns.slice(first).flat(), ...own];
}
