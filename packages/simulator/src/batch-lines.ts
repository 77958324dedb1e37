import { randomBytes } from 'node:crypto';
import { chatCompletion } from './completion.js';
import { DirectiveError, findDirective, type BatchFault, type Directive } from './directives.js';
import { faultError, invalidRequest } from './errors.js';
import { countPromptTokens } from './messages.js';
import { simulateReply } from './reply.js';
import { checkCompletionBody } from './request-body.js';

/** A request of a batch input file that passed validation. */
export interface BatchInputLine {
  customId: string;
  body: unknown;
}

/** An entry of a failed batch's `errors.data`, as OpenAI reports a bad input file. */
export interface BatchInputError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export type BatchInput = { lines: BatchInputLine[]; fault?: BatchFault } | { errors: BatchInputError[] };

/** Errors reported per failed batch, at most: a file of 50,000 bad lines needs no 50,000 messages. */
const MAX_REPORTED_ERRORS = 10;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The `[[sim batch=...]]` fault a request asks for, if any; a directive the simulator cannot read is that line's own 400. */
function batchFaultOf(body: Record<string, unknown>): BatchFault | undefined {
  if (!Array.isArray(body.messages)) return undefined;
  try {
    return findDirective(body.messages)?.batch;
  } catch (error) {
    if (error instanceof DirectiveError) return undefined;
    throw error;
  }
}

/**
 * Validates a batch input file as OpenAI does before a batch runs: every non-blank line a JSON
 * object with a unique `custom_id`, `method: "POST"`, the batch's `url` and an object `body`.
 * Any bad line fails the whole batch (the errors name the lines); the first `batch=` directive
 * found is the batch's fault.
 */
export function readBatchInput(content: Buffer, endpoint: string): BatchInput {
  const lines: BatchInputLine[] = [];
  const errors: BatchInputError[] = [];
  const seen = new Set<string>();
  let fault: BatchFault | undefined;
  const report = (line: number, code: string, message: string, param: string | null = null) => {
    if (errors.length < MAX_REPORTED_ERRORS) errors.push({ code, message, param, line });
  };
  content
    .toString('utf8')
    .split('\n')
    .forEach((text, index) => {
      const number = index + 1;
      if (!text.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return report(number, 'invalid_json_line', `Line ${number} is not valid JSON.`);
      }
      if (!isObject(value)) return report(number, 'invalid_json_line', `Line ${number} is not a JSON object.`);
      const { custom_id: customId, method, url, body } = value;
      if (typeof customId !== 'string' || customId === '') return report(number, 'missing_required_parameter', `Line ${number} has no custom_id.`, 'custom_id');
      if (seen.has(customId)) return report(number, 'duplicate_custom_id', `The custom_id '${customId}' is used more than once.`, 'custom_id');
      if (method !== 'POST') return report(number, 'invalid_method', `Line ${number}: method must be POST.`, 'method');
      if (url !== endpoint) return report(number, 'mismatched_endpoint', `Line ${number}: url must be the batch's endpoint, ${endpoint}.`, 'url');
      if (!isObject(body)) return report(number, 'missing_required_parameter', `Line ${number} has no body object.`, 'body');
      seen.add(customId);
      fault ??= batchFaultOf(body);
      lines.push({ customId, body });
    });
  if (errors.length) return { errors };
  if (lines.length === 0) return { errors: [{ code: 'empty_file', message: 'The batch input file has no requests.', param: null, line: null }] };
  return { lines, ...(fault && { fault }) };
}

/** What one request of a batch gets: the status and body its live request would get. */
export interface LineAnswer {
  statusCode: number;
  body: unknown;
}

/**
 * Answers one request of a batch as the simulator answers it live, without streaming: the same
 * deterministic reply, or the error a `[[sim status=N]]` directive asks for (counted against its
 * `times`, like a live request's). Body faults (break, stall, truncate), speed and the simulator's
 * own rate limits do not apply to a batch.
 */
export function answerLine(line: BatchInputLine, countFault: (directive: Directive) => boolean): LineAnswer {
  const body = checkCompletionBody(line.body);
  if ('error' in body) return { statusCode: 400, body };
  let directive: Directive | undefined;
  try {
    directive = findDirective(body.messages);
  } catch (error) {
    if (error instanceof DirectiveError) return { statusCode: 400, body: invalidRequest(error.message, 'messages') };
    throw error;
  }
  if (directive?.status !== undefined && countFault(directive)) return { statusCode: directive.status, body: faultError(directive.status, directive.code) };
  const reply = simulateReply(body);
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
  return {
    statusCode: 200,
    body: chatCompletion({ id, created: Math.floor(Date.now() / 1000), model: body.model, tokens: reply.tokens, finishReason: reply.finishReason, promptTokens: countPromptTokens(body.messages) }),
  };
}

/** A line of an output or error file: `{id, custom_id, response: {status_code, request_id, body}, error}`. */
export function outputLine(customId: string, answer: LineAnswer): string {
  const requestId = `req_${randomBytes(16).toString('hex')}`;
  return JSON.stringify({
    id: `batch_req_${randomBytes(12).toString('hex')}`,
    custom_id: customId,
    response: { status_code: answer.statusCode, request_id: requestId, body: answer.body },
    error: null,
  });
}

/** A line of an error file for a request that never ran (its batch expired). */
export function expiredLine(customId: string): string {
  return JSON.stringify({
    id: `batch_req_${randomBytes(12).toString('hex')}`,
    custom_id: customId,
    response: null,
    error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
  });
}
