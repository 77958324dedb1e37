import { countTokens } from 'gpt-tokenizer';

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

// Users may write "<|endoftext|>"; OpenAI counts it as plain text, so must we (the default throws).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** OpenAI's chat accounting: the tokens of each message's text, 3 per message, 3 to prime the reply. */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  let total = 3;
  for (const message of messages) total += countTokens(messageText(message), PLAIN_TEXT) + 3;
  return total;
}
