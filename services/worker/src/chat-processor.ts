import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { JobResult, UpstreamRequest, Usage } from '@spool/contracts';
import type { JobRepository, JobFields } from '@spool/jobs';
import { encodeEntry, streamedText, type EventLog } from '@spool/stream';
import type { ChatJobData } from '@spool/queue';
import { classifyUpstreamError, countPromptTokens, countTokens, type UpstreamClient } from '@spool/llm';
import { DeltaWriter, LostOwnershipError } from './delta-writer.js';
import { continuationRequest } from './continuation.js';

export interface ChatProcessorDeps {
  jobs: JobRepository;
  log: EventLog;
  upstream: UpstreamClient;
  logger: Logger;
  maxAttempts: number;
  /** abort handles of the attempts this process runs, by job id (cancel reaches them here) */
  active: Map<string, AbortController>;
  /** delta coalescing window, ms */
  coalesceMs?: number;
}

/** Text streamed by earlier attempts: a retry or a takeover continues from it. */
async function textSoFar(log: EventLog, jobId: string, attempt: number): Promise<string> {
  return attempt > 1 ? streamedText(await log.readAfter(jobId, 0)) : '';
}

/** The whole reply's tokens, across attempts; the prompt as upstream counted it, else estimated. */
function finalUsage(usage: Usage | null, request: UpstreamRequest, content: string): Usage {
  const completion = countTokens(content);
  const prompt = usage?.prompt_tokens ?? countPromptTokens(request.messages);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/**
 * One attempt of a chat job: take ownership, stream from upstream into the job's log, and end
 * the job once. A retryable failure hands the job back and throws so BullMQ backs off.
 */
export function createChatProcessor(deps: ChatProcessorDeps) {
  const { jobs, log, upstream, logger, maxAttempts, active } = deps;

  return async function processChat(bullJob: Job<ChatJobData>, _token?: string, signal?: AbortSignal): Promise<void> {
    const jobId = bullJob.data.jobId;
    const owner = randomUUID();
    const started = await jobs.start(jobId, owner);
    if (started.state !== 'started') return; // cancelled before it ran, or expired
    const { attempt, fields } = started;
    const request = JSON.parse(fields.request) as UpstreamRequest;
    const jobLogger = logger.child({ job_id: jobId, attempt });

    let prior = await textSoFar(log, jobId, attempt);
    if (prior && fields.on_interrupt === 'restart') {
      const reset = encodeEntry('reset', JSON.stringify({ attempt, reason: 'the previous attempt was interrupted' }));
      if (!(await jobs.append(jobId, owner, [reset]))) return;
      prior = '';
    }

    const controller = new AbortController();
    active.set(jobId, controller);
    const onShutdown = () => controller.abort();
    signal?.addEventListener('abort', onShutdown, { once: true });
    const writer = new DeltaWriter(jobs, jobId, owner, () => controller.abort(), deps.coalesceMs);
    try {
      const completion = await upstream.stream(prior ? continuationRequest(request, prior) : request, {
        signal: controller.signal,
        onDelta: (text) => writer.push(text),
      });
      await writer.flush();
      const content = prior + completion.content;
      const result: JobResult = {
        content,
        finish_reason: completion.finishReason,
        usage: finalUsage(completion.usage, request, content),
      };
      await jobs.finish(jobId, fields, { status: 'succeeded', result }, { owner });
      jobLogger.info({ finish_reason: result.finish_reason, completion_tokens: result.usage.completion_tokens }, 'job succeeded');
    } catch (thrown) {
      await writer.flush().catch(() => undefined);
      if (thrown instanceof LostOwnershipError || writer.lostOwnership) return;
      await endOrRetry(thrown, writer.text);
    } finally {
      active.delete(jobId);
      signal?.removeEventListener('abort', onShutdown);
    }

    async function endOrRetry(thrown: unknown, attemptText: string): Promise<void> {
      const error = classifyUpstreamError(thrown);
      if (error.retryable && attempt < maxAttempts) {
        jobLogger.warn({ code: error.code, status: error.status }, 'attempt failed; retrying');
        if (await jobs.requeue(jobId, owner, attempt + 1)) throw error;
        return;
      }
      const text = prior + attemptText;
      const partial = text ? { content: text, completion_tokens: countTokens(text) } : null;
      const outcome = { status: 'failed' as const, error: { code: error.code, message: error.message }, partial };
      await jobs.finish(jobId, fields as JobFields, outcome, { owner });
      jobLogger.warn({ code: error.code, status: error.status }, 'job failed');
    }
  };
}
