import { countTokens } from '@spool/llm';

/** A chat message as the simulator reads it: only the role and the text matter. */
export interface ChatMessage {
  role: string;
  content?: string | readonly ContentPart[] | null;
}

/** A content part; only `{ type: 'text', text }` parts count as text. */
export interface ContentPart {
  type: string;
  text?: string;
}

/** The text of a message: the string content, or its text parts joined. */
export function messageText(message: ChatMessage): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part && part.type === 'text' && typeof part.text === 'string') text += part.text;
  }
  return text;
}

/**
 * OpenAI's chat accounting: the tokens of each message's text, 3 per message, 3 to prime the
 * reply. Counted as Spool counts them (`@spool/llm`: "<|endoftext|>" as plain text, long texts
 * estimated): gpt-tokenizer alone takes minutes over 300 KB of one letter, and one such request
 * would stop the simulator (and a test's whole process) for that long.
 */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  let total = 3;
  for (const message of messages) total += countTokens(messageText(message)) + 3;
  return total;
}
