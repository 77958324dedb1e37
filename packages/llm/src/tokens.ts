import { countTokens as count } from 'gpt-tokenizer';
import type { ChatMessage } from '@spool/contracts';

/** Tokens of a text with the o200k tokenizer of current OpenAI models. */
export function countTokens(text: string): number {
  return text ? count(text) : 0;
}

function messageText(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  if (!Array.isArray(message.content)) return '';
  return message.content.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}

/** Prompt tokens as OpenAI counts them: the text plus a few tokens of framing per message. */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  let total = 3;
  for (const message of messages) total += 3 + countTokens(messageText(message));
  return total;
}
