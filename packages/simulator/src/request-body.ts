import type { IncomingMessage } from 'node:http';
import { SimulatorError } from './simulator-error.js';
import { invalidRequest, type OpenAIErrorBody } from './errors.js';
import type { ChatMessage } from './messages.js';

/** A chat completion's body, at most. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The fields of `POST /v1/chat/completions` the simulator reads. */
export interface CompletionBody {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  seed?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
}

export class BodyTooLargeError extends SimulatorError {
  constructor(message: string) {
    super('body_too_large', message);
  }
}

/** The request body as text; rejects past 16 MiB or when the client goes away. */
export async function readBody(request: IncomingMessage): Promise<string> {
  return (await readBytes(request, MAX_BODY_BYTES)).toString('utf8');
}

/** The request body's bytes; rejects past `max` bytes or when the client goes away. */
export async function readBytes(request: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new BodyTooLargeError(`Request body is larger than ${Math.round(max / 1024 / 1024)} MiB.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Parses and checks a completion body the way OpenAI would answer a bad one: 400 with a `param`. */
export function parseCompletionBody(text: string): CompletionBody | OpenAIErrorBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return invalidRequest('We could not parse the JSON body of your request.', 'messages');
  }
  return checkCompletionBody(value);
}

/** Checks a parsed completion body (a request, or a line of a batch file). */
export function checkCompletionBody(value: unknown): CompletionBody | OpenAIErrorBody {
  if (!isObject(value)) return invalidRequest('The body must be a JSON object.', 'messages');
  const { messages, model } = value;
  if (!Array.isArray(messages) || messages.length === 0) {
    return invalidRequest("'messages' must be a non-empty array.", 'messages');
  }
  for (const [index, message] of messages.entries()) {
    if (!isObject(message) || typeof message.role !== 'string') {
      return invalidRequest(`'messages.${index}' must be an object with a 'role'.`, 'messages');
    }
    const { content } = message;
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) {
      return invalidRequest(`'messages.${index}.content' must be a string or an array of parts.`, 'messages');
    }
  }
  if (typeof model !== 'string' || model === '') return invalidRequest("'model' is required.", 'model');
  for (const param of ['max_tokens', 'max_completion_tokens', 'seed'] as const) {
    const field = value[param];
    if (field === undefined || field === null) continue;
    if (!Number.isInteger(field) || (param !== 'seed' && (field as number) < 0)) {
      return invalidRequest(`'${param}' must be ${param === 'seed' ? 'an integer' : 'a non-negative integer'}.`, param);
    }
  }
  return value as unknown as CompletionBody;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
