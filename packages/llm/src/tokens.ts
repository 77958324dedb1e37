import { countTokens as countWhole, setMergeCacheSize } from 'gpt-tokenizer';
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';
import type { ChatMessage } from '@spool/contracts';

/**
 * Longest pre-token (a run the tokenizer's regex hands to byte-pair merging) merged whole.
 * Merging is quadratic in its length: 300,000 `a`s took 40 s.
 */
const MAX_PIECE = 64;
/** Longer texts are estimated: counting 4 KiB of the slowest text (random CJK) takes a few ms. */
const EXACT_CHARS = 4096;
/** Windows of a long text counted for its estimate, EXACT_CHARS in all. */
const SAMPLES = 16;

// gpt-tokenizer's merge cache is an LRU Map emptied from the front; once it has churned, every hit
// costs tens of µs (400 KB of one repeated piece took 70 s). Merging a capped piece costs less.
setMergeCacheSize(0);

// Users may write "<|endoftext|>"; OpenAI counts it as plain text, so must we (the default throws).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Exact, except that a pre-token longer than MAX_PIECE is counted in pieces of that many characters. */
function countCapped(text: string): number {
  let total = 0;
  let start = 0;
  for (const match of text.matchAll(O200K_TOKEN_SPLIT_REGEX)) {
    if (match[0].length <= MAX_PIECE) continue;
    if (match.index > start) total += countWhole(text.slice(start, match.index), PLAIN_TEXT);
    const characters = Array.from(match[0]);
    for (let at = 0; at < characters.length; at += MAX_PIECE) {
      total += countWhole(characters.slice(at, at + MAX_PIECE).join(''), PLAIN_TEXT);
    }
    start = match.index + match[0].length;
  }
  return start < text.length ? total + countWhole(text.slice(start), PLAIN_TEXT) : total;
}

/** SAMPLES windows spread evenly over the text, counted and scaled to its length. */
function estimate(text: string): number {
  const width = EXACT_CHARS / SAMPLES;
  const stride = (text.length - width) / (SAMPLES - 1);
  let sampled = 0;
  for (let index = 0; index < SAMPLES; index++) {
    const start = Math.round(index * stride);
    sampled += countCapped(text.slice(start, start + width));
  }
  return Math.round((sampled * text.length) / EXACT_CHARS);
}

/**
 * Tokens of a text with the o200k tokenizer of current OpenAI models, at a bounded cost (a few
 * ms at most, whatever the text). Up to 4 KiB it is OpenAI's count, except where a pre-token is
 * longer than 64 characters (a word without spaces that long, a run of one letter or symbol):
 * that is counted in pieces, a token or so more per piece. A longer text is an estimate from
 * 16 windows of 256 characters spread over it, usually within a few percent (a window cut
 * mid-word adds a token), and as wrong as its windows are unlike the rest.
 */
export function countTokens(text: string): number {
  return text.length <= EXACT_CHARS ? countCapped(text) : estimate(text);
}

function messageText(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  if (!Array.isArray(message.content)) return '';
  return message.content.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}

/**
 * Prompt tokens as OpenAI counts them: the text plus a few tokens of framing per message.
 * Exact (as `countTokens`) while the texts come to 4 KiB in all; beyond, their concatenation is
 * estimated in one go, so a request of many messages costs no more than one of a single long one.
 */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  const texts = messages.map(messageText);
  const framing = 3 + 3 * messages.length;
  const chars = texts.reduce((sum, text) => sum + text.length, 0);
  if (chars > EXACT_CHARS) return framing + estimate(texts.join(''));
  return texts.reduce((sum, text) => sum + countCapped(text), framing);
}

/**
 * The prompt tokens that `countPromptTokens` leaves out of a request: tool and function
 * definitions, a response's JSON schema, and in the messages all but their text (tool calls, a
 * function call, non-text parts), counted with the tokenizer as their JSON. Upstream renders them
 * its own way, of about that size; what it charges for an image (by its size, per model) is not
 * known here.
 */
export function uncountedPromptTokens(request: { messages: readonly ChatMessage[]; tools?: unknown; functions?: unknown; response_format?: unknown }): number {
  const material: unknown[] = [];
  if (request.tools != null) material.push(request.tools);
  if (request.functions != null) material.push(request.functions);
  const format = request.response_format as { json_schema?: unknown } | null | undefined;
  if (format?.json_schema != null) material.push(format.json_schema);
  for (const message of request.messages) {
    const { role: _role, content, ...rest } = message;
    if (Object.keys(rest).length) material.push(rest);
    if (Array.isArray(content)) material.push(...content.filter((part) => part.type !== 'text'));
  }
  return material.length ? countTokens(material.map((value) => JSON.stringify(value)).join('\n')) : 0;
}
