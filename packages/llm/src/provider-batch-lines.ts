import { APIError } from 'openai';
import type { FinishReason, JobResult, UpstreamRequest, Usage } from '@spool/contracts';
import { countTokens } from './tokens.js';
import { UpstreamError, classifyUpstreamError } from './upstream-error.js';

/** A line of a batch input file: one chat request, `custom_id` the job's id, `model` as the upstream names it. */
export function batchInputLine(jobId: string, request: UpstreamRequest, upstreamModel: string): string {
  return JSON.stringify({ custom_id: jobId, method: 'POST', url: '/v1/chat/completions', body: { ...request, model: upstreamModel } });
}

/** What a line of an output or error file says about its request. */
export type BatchLineOutcome =
  | { kind: 'succeeded'; customId: string; result: JobResult }
  /** failed as a live call would; `error.retryable` says whether a live attempt may do better */
  | { kind: 'failed'; customId: string; error: UpstreamError };

interface OutputLine {
  custom_id?: unknown;
  response?: { status_code?: unknown; body?: unknown } | null;
  error?: { code?: unknown; message?: unknown } | null;
}

interface CompletionBody {
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: Partial<Usage> | null;
}

/**
 * The usage upstream reported (OpenAI always reports it in a batch's output). Without it the
 * reply's tokens are counted; the prompt's are unknown here and counted as none.
 */
function usageOf(body: CompletionBody, content: string): Usage {
  const reported = body.usage;
  if (typeof reported?.prompt_tokens === 'number' && typeof reported.completion_tokens === 'number') {
    return { prompt_tokens: reported.prompt_tokens, completion_tokens: reported.completion_tokens, total_tokens: reported.prompt_tokens + reported.completion_tokens };
  }
  const completion = countTokens(content);
  return { prompt_tokens: 0, completion_tokens: completion, total_tokens: completion };
}

/**
 * Reads one line of an upstream batch's output or error file (`{custom_id, response: {status_code,
 * body}, error}`): a 200 is the job's result; another status is the error its live call would
 * have got (the one classification of `classifyUpstreamError`); a line with only an `error` (the
 * request never ran: the batch expired or was cancelled) is retryable. Undefined for a line that
 * is not one of these.
 */
export function readBatchOutputLine(text: string): BatchLineOutcome | undefined {
  let line: OutputLine;
  try {
    line = JSON.parse(text) as OutputLine;
  } catch {
    return undefined;
  }
  if (typeof line !== 'object' || line === null || typeof line.custom_id !== 'string') return undefined;
  const customId = line.custom_id;
  const status = line.response?.status_code;
  if (status === 200) {
    const body = (line.response?.body ?? {}) as CompletionBody;
    const choice = body.choices?.[0];
    if (!choice) return { kind: 'failed', customId, error: new UpstreamError('upstream_error', 'Upstream batch answered without a choice', true) };
    const content = choice.message?.content ?? '';
    const finishReason = (choice.finish_reason ?? 'stop') as FinishReason;
    return { kind: 'succeeded', customId, result: { content, finish_reason: finishReason, usage: usageOf(body, content) } };
  }
  if (typeof status === 'number') {
    return { kind: 'failed', customId, error: classifyUpstreamError(APIError.generate(status, line.response?.body as object | undefined, undefined, new Headers())) };
  }
  const code = typeof line.error?.code === 'string' ? line.error.code : 'unknown';
  return { kind: 'failed', customId, error: new UpstreamError('upstream_error', `Upstream batch did not run the request (${code})`, true) };
}
