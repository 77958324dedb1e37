import { createHash } from 'node:crypto';
import { findDirective } from './directives.js';
import { messageText, type ChatMessage } from './messages.js';

/** The fields of a chat completion request that decide the reply. */
export interface ReplyRequest {
  model: string;
  messages: readonly ChatMessage[];
  seed?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
}

/** What the simulator answers to a request, before any fault. */
export interface SimulatedReply {
  /** The tokens joined: the text a client receives. */
  content: string;
  /** One entry per content chunk; `completion_tokens` counts these. */
  tokens: string[];
  finishReason: 'stop' | 'length';
}

const VOCABULARY = (
  'the a queue job worker stream token model reply request message server client gateway ' +
  'simulator batch window limit retry backoff event delta chunk prompt answer system user ' +
  'assistant session store redis lock lease timer signal state record value result error ' +
  'status header body socket network cluster node process thread memory cache buffer log ' +
  'metric trace span budget quota tenant key route path file index schema field type ' +
  'quickly slowly calmly steadily gently firmly clearly simply safely briefly ' +
  'holds sends reads writes keeps moves waits takes gives builds checks counts finds ' +
  'opens closes starts stops joins splits marks tracks serves streams answers repeats ' +
  'and but so then while when because after before with without under over into ' +
  'quiet bright small large early late fresh stable ready open busy idle full empty'
).split(' ');

const MIN_LENGTH = 20;
const MAX_LENGTH = 60;
const MIN_SENTENCE = 5;
const MAX_SENTENCE = 15;

/**
 * The reply the simulator sends for a request: a deterministic function of model, messages
 * and seed, continued after a partial assistant message and cut at `max_tokens`.
 */
export function simulateReply(request: ReplyRequest): SimulatedReply {
  const tokens = replyTokens(request.model, request.messages, request.seed ?? null);
  const cap = request.max_tokens ?? request.max_completion_tokens;
  if (cap != null && cap < tokens.length) {
    const cut = tokens.slice(0, Math.max(0, cap));
    return { content: cut.join(''), tokens: cut, finishReason: 'length' };
  }
  return { content: tokens.join(''), tokens, finishReason: 'stop' };
}

function replyTokens(model: string, messages: readonly ChatMessage[], seed: number | null): string[] {
  const last = lastAssistantIndex(messages);
  if (last >= 0) {
    const partial = messageText(messages[last]);
    if (partial !== '') {
      const rest = remainderAfter(replyTokens(model, messages.slice(0, last), seed), partial);
      if (rest) return rest;
    }
  }
  return generate(model, messages, seed);
}

function lastAssistantIndex(messages: readonly ChatMessage[]): number {
  for (let index = messages.length - 1; index >= 0; index--) {
    if (messages[index].role === 'assistant') return index;
  }
  return -1;
}

// A partial equal to the whole reply is a finished turn of a conversation, not a broken stream.
function remainderAfter(tokens: string[], partial: string): string[] | undefined {
  const full = tokens.join('');
  if (partial.length >= full.length || !full.startsWith(partial)) return undefined;
  let position = 0;
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index];
    if (position + token.length > partial.length) {
      const offset = partial.length - position;
      return offset === 0 ? tokens.slice(index) : [token.slice(offset), ...tokens.slice(index + 1)];
    }
    position += token.length;
  }
  return undefined;
}

function generate(model: string, messages: readonly ChatMessage[], seed: number | null): string[] {
  const canonical = JSON.stringify({
    model,
    messages: messages.map((message) => [message.role, messageText(message)]),
    seed,
  });
  const random = prng(createHash('sha256').update(canonical).digest());
  const length = findDirective(messages)?.tokens ?? MIN_LENGTH + Math.floor(random() * (MAX_LENGTH - MIN_LENGTH + 1));
  const tokens: string[] = [];
  let sentenceLeft = 0;
  for (let index = 0; index < length; index++) {
    const starts = sentenceLeft === 0;
    if (starts) sentenceLeft = MIN_SENTENCE + Math.floor(random() * (MAX_SENTENCE - MIN_SENTENCE + 1));
    let word = VOCABULARY[Math.floor(random() * VOCABULARY.length)];
    if (starts) word = word[0].toUpperCase() + word.slice(1);
    sentenceLeft--;
    const ends = sentenceLeft === 0 || index === length - 1;
    tokens.push((index === 0 ? '' : ' ') + word + (ends ? '.' : ''));
  }
  return tokens;
}

// sfc32: small, fast, and seeded from 128 bits of the request hash.
function prng(seed: Buffer): () => number {
  let a = seed.readUInt32LE(0);
  let b = seed.readUInt32LE(4);
  let c = seed.readUInt32LE(8);
  let d = seed.readUInt32LE(12);
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
