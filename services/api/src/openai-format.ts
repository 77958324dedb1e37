import type { JobObject } from '@spool/contracts';
import { ApiError } from '@spool/contracts';
import { budgetExceeded } from './budget-check.js';

/** OpenAI's ids and shapes for a Spool job, so an OpenAI SDK pointed at Spool sees nothing new. */
export function completionId(job: Pick<JobObject, 'id'>): string {
  return `chatcmpl-${job.id}`;
}

export function chatCompletion(job: JobObject) {
  const result = job.result!;
  return {
    id: completionId(job),
    object: 'chat.completion',
    created: job.created_at,
    // the model that answered: a fallback of the one asked for when that had no upstream available
    model: result.model ?? job.model,
    system_fingerprint: null,
    choices: [
      { index: 0, message: { role: 'assistant', content: result.content, refusal: null }, logprobs: null, finish_reason: result.finish_reason },
    ],
    usage: result.usage,
  };
}

type ChunkJob = Pick<JobObject, 'id' | 'created_at' | 'model'>;

function chunkEvent(job: ChunkJob, fields: Record<string, unknown>): string {
  const body = { id: completionId(job), object: 'chat.completion.chunk', created: job.created_at, model: job.model, system_fingerprint: null, ...fields };
  return `data: ${JSON.stringify(body)}\n\n`;
}

export function chunk(job: ChunkJob, delta: Record<string, unknown>, finishReason: string | null = null): string {
  return chunkEvent(job, { choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
}

/** The last chunk when `stream_options.include_usage` asked for it: no choices, the usage. */
export function usageChunk(job: JobObject): string {
  return chunkEvent(job, { choices: [], usage: job.result!.usage });
}

/** A job that did not succeed, as the HTTP error OpenAI would have answered. */
export function jobFailure(job: JobObject, upstreamStatus?: number): ApiError {
  const code = job.error?.code ?? 'upstream_error';
  const message = job.error?.message ?? 'The request failed';
  switch (code) {
    case 'invalid_upstream_request': {
      const status = upstreamStatus && upstreamStatus >= 400 && upstreamStatus < 500 ? upstreamStatus : 400;
      return new ApiError(status, 'invalid_request_error', code, message);
    }
    case 'upstream_auth_error':
      // Spool's own upstream key, not the caller's: a gateway failure, which a retry will not clear.
      return new ApiError(502, 'api_error', code, message, null, { 'x-should-retry': 'false' });
    case 'insufficient_quota':
    case 'upstream_rate_limited':
      return new ApiError(429, 'rate_limit_error', code, message, null, { 'retry-after': '1' });
    case 'budget_exceeded':
      // A new submission would meet the same budget: the SDK is told not to send it again.
      return budgetExceeded(message, { 'x-should-retry': 'false' });
    case 'upstream_timeout':
      return new ApiError(504, 'api_error', code, message);
    case 'cancelled':
      return new ApiError(409, 'invalid_request_error', code, message);
    case 'interrupted':
      return new ApiError(503, 'api_error', code, message);
    default:
      return new ApiError(upstreamStatus && upstreamStatus >= 500 ? upstreamStatus : 502, 'api_error', code, message);
  }
}
