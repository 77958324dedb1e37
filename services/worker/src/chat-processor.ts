import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { JobError, JobResult, UpstreamRequest, Usage } from '@spool/contracts';
import { streamEndOf, type JobRepository, type JobFields, type StartResult } from '@spool/jobs';
import { encodeEntry, streamedText, type EventLog } from '@spool/stream';
import type { ChatJobData } from '@spool/queue';
import { classifyUpstreamError, continuationRequest, countPromptTokens, countTokens, type Completion, type UpstreamClient, type UpstreamError } from '@spool/llm';
import { DeltaWriter, LostOwnershipError } from './delta-writer.js';
import type { Metrics } from '@spool/metrics';
import { StoreUnavailableError } from '@spool/store';
import { AttemptMetrics } from './attempt-metrics.js';
import { FlushClock } from './flush-clock.js';
import { HeldDeltas } from './held-deltas.js';
import { retryDelayMs } from './backoff.js';
import { estimateTokens, UpstreamGateError, type UpstreamGate } from './upstream-gate.js';

/** Why BullMQ aborted an attempt (`worker.cancelJob` / `cancelAllJobs`). */
export const ABORT_CANCELLED = 'cancelled';
export const ABORT_SHUTDOWN = 'shutdown';

/**
 * Attempts given back (rate limits, hand-backs, gate or store outages) before a 429 starts costing
 * attempts and an outage fails the job. With backoff capped at 60 s, 50 outlast most outages.
 */
const MAX_DEFERRALS = 50;
/** A 429 with no retry-after still pauses the queue this long. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 1000;

export interface ChatProcessorDeps {
  jobs: JobRepository;
  log: EventLog;
  upstream: UpstreamClient;
  gate: UpstreamGate;
  /** the chat queue, to pause it for every worker on a 429 */
  queue: Queue<ChatJobData>;
  logger: Logger;
  maxAttempts: number;
  /** delta coalescing window, ms */
  coalesceMs?: number;
  /** session history goes in here */
  prepareRequest?: PrepareRequest;
  /** where durations, upstream calls, retries and tokens are counted */
  metrics?: Metrics;
  /** first delay of a job waiting out a gate or store outage, ms (SPOOL_BACKOFF_MS); default 1000 */
  backoffMs?: number;
}

/**
 * Turns a job's stored request into what goes upstream. A job without a session must come out
 * as it went in: a first attempt that carries its request (no session) skips this.
 */
export type PrepareRequest = (request: UpstreamRequest, fields: JobFields) => Promise<UpstreamRequest>;

/** The store or Redis out of reach for now: a job waits that out. Anything else is a fault, and costs the attempt. */
function isOutage(error: unknown): boolean {
  return error instanceof StoreUnavailableError || (error instanceof Error && ['ReplyError', 'MaxRetriesPerRequestError'].includes(error.name));
}

/** A fresh job's log holds `queued` and this attempt's `running`; anything more came before. */
const FRESH_EVENT_COUNT = 2;

/** Text streamed by earlier attempts (a retry, a takeover, a hand-back): the next one continues from it. */
async function textSoFar(log: EventLog, jobId: string, eventCount: number): Promise<string> {
  return eventCount > FRESH_EVENT_COUNT ? streamedText(await log.readAfter(jobId, 0)) : '';
}

/**
 * The reply's usage as upstream counted it. A reply continued after an interruption adds the
 * text of earlier attempts (counted here) to the last call's, whose prompt held that text.
 */
function finalUsage(usage: Usage | null, request: UpstreamRequest, prior: string, content: string): Usage {
  const completion = usage ? usage.completion_tokens + countTokens(prior) : countTokens(content);
  const prompt = usage && !prior ? usage.prompt_tokens : countPromptTokens(request.messages);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/**
 * One attempt of a chat job: take ownership, wait for the shared upstream gate, stream into the
 * job's log, and end the job once. A retryable failure hands the job back and throws so BullMQ
 * backs off; a 429 pauses the whole queue instead and costs no attempt.
 */
export function createChatProcessor(deps: ChatProcessorDeps) {
  const { jobs, log, upstream, gate, logger, maxAttempts } = deps;
  const clock = new FlushClock(deps.coalesceMs ?? 80);

  /**
   * One upstream call: the shared gate, then the stream, its deltas to `onDelta`. The gate is
   * charged an estimate, corrected to the usage upstream reports, or to what a failed call used.
   */
  async function callUpstream(request: UpstreamRequest, measure: AttemptMetrics, onDelta: (text: string) => void, signal: AbortSignal): Promise<Completion> {
    const promptTokens = countPromptTokens(request.messages);
    const estimated = estimateTokens(request, promptTokens);
    await gate.acquire(estimated, signal);
    measure.upstreamStarted();
    let streamed = '';
    try {
      const completion = await upstream.stream(request, {
        signal,
        onDelta: (text) => {
          streamed += text;
          onDelta(text);
        },
        onHeaders: (snapshot) => void gate.observe(snapshot).catch(() => undefined),
      });
      measure.upstreamEnded();
      if (completion.usage) void gate.correct(estimated, completion.usage.total_tokens).catch(() => undefined);
      return completion;
    } catch (error) {
      measure.upstreamEnded(error);
      const used = streamed ? Math.min(estimated, promptTokens + countTokens(streamed)) : 0;
      void gate.correct(estimated, used).catch(() => undefined);
      throw error;
    }
  }

  return async function processChat(bullJob: Job<ChatJobData>, token?: string, signal?: AbortSignal): Promise<void> {
    const jobId = bullJob.data.jobId;
    const owner = randomUUID();
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const measure = new AttemptMetrics(deps.metrics, bullJob);
    const deltas = new HeldDeltas();
    const starting = jobs.start(jobId, owner);
    // A first attempt that carries its request calls upstream while START is on its way: a round
    // trip less before the first token. Its deltas are held until START confirms the attempt. (A
    // cancel that lands between pickup and START costs an upstream call, aborted at once.)
    const carried = bullJob.attemptsStarted <= 1 ? bullJob.data.request : undefined;
    const headStart = carried ? callUpstream(carried, measure, deltas.push, controller.signal) : undefined;
    headStart?.catch(() => undefined); // awaited once the attempt is confirmed
    try {
      const started = await starting;
      if (started.state !== 'started') {
        // The API writes the record before the queue entry, on one connection: an entry without a
        // record is one the API took back (a refused quota, a batch rolled back), or data Redis lost.
        if (started.state === 'missing') logger.warn({ job_id: jobId }, 'queue entry without a job record: dropped');
        return; // or cancelled before it ran
      }
      if (headStart && started.eventCount !== FRESH_EVENT_COUNT) {
        // Defensive (BullMQ counts every pickup): not a first attempt after all, so this one steps
        // aside, uncounted, for one that continues the text so far.
        controller.abort();
        if (!(await jobs.requeue(jobId, owner, started.attempt, true))) return;
        await bullJob.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      await runAttempt(started);
    } finally {
      controller.abort(); // no call outlives its attempt
      signal?.removeEventListener('abort', onAbort);
    }

    async function runAttempt({ attempt, fields, eventCount }: Extract<StartResult, { state: 'started' }>): Promise<void> {
      const jobLogger = logger.child({ job_id: jobId, attempt });
      let request: UpstreamRequest;
      let prior = '';
      if (carried) request = carried;
      else {
        // The attempt before streamed the whole reply, then its worker died before ending the job.
        const streamEnd = streamEndOf(fields);
        if (streamEnd) return succeed({ content: streamedText(await log.readAfter(jobId, 0)), ...streamEnd });
        const stored = JSON.parse(fields.request) as UpstreamRequest;
        prior = await textSoFar(log, jobId, eventCount);
        if (prior) measure.continuing();
        if (prior && fields.on_interrupt === 'restart') {
          const reset = encodeEntry('reset', JSON.stringify({ attempt, reason: 'the previous attempt was interrupted' }));
          if (!(await jobs.append(jobId, owner, [reset]))) return;
          prior = '';
        }
        try {
          request = deps.prepareRequest ? await deps.prepareRequest(stored, fields) : stored;
        } catch (error) {
          if (!isOutage(error)) throw error;
          return retryLater(error); // the store (session history) is down: not the job's fault
        }
      }

      const writer = new DeltaWriter(jobs, jobId, owner, () => controller.abort(), clock);
      deltas.attach((text) => {
        measure.delta();
        writer.push(text);
      });
      try {
        const completion = await (headStart ?? callUpstream(prior ? continuationRequest(request, prior) : request, measure, deltas.push, controller.signal));
        const content = prior + completion.content;
        const result: JobResult = { content, finish_reason: completion.finishReason, usage: finalUsage(completion.usage, request, prior, content) };
        await writer.end({ finish_reason: result.finish_reason, usage: result.usage });
        await succeed(result);
      } catch (thrown) {
        await writer.flush().catch(() => undefined);
        if (thrown instanceof LostOwnershipError || writer.lostOwnership || signal?.reason === ABORT_CANCELLED) return;
        if (signal?.reason === ABORT_SHUTDOWN) return handBack();
        if (thrown instanceof UpstreamGateError) return retryLater(thrown);
        const error = classifyUpstreamError(thrown);
        if (error.rateLimited) return pauseQueue(error);
        await endOrRetry(error, writer.text);
      }

      async function succeed(result: JobResult): Promise<void> {
        const finished = await jobs.finish(jobId, fields, { status: 'succeeded', result }, { owner });
        if (finished.state === 'finished') measure.succeeded(result, fields);
        jobLogger.info({ finish_reason: result.finish_reason, completion_tokens: result.usage.completion_tokens }, 'job succeeded');
      }

      /** The worker is stopping: the job goes back to the queue at once, its attempt not counted. */
      async function handBack(): Promise<void> {
        jobLogger.info('worker stopping; job handed back');
        return deferFor(0);
      }

      /** Gives the job back to the queue, to run again in `delayMs`; the attempt is not counted (a deferral). */
      async function deferFor(delayMs: number): Promise<void> {
        if (!(await jobs.requeue(jobId, owner, attempt, true))) return;
        // Delayed, not waiting: BullMQ wakes no blocked worker for a prioritized job moved back to wait.
        await bullJob.moveToDelayed(Date.now() + delayMs, token);
        throw new DelayedError();
      }

      /**
       * Our own gate (Redis) or store failed before upstream was called: the job waits with backoff
       * and tries again, uncounted, until MAX_DEFERRALS; an outage that long fails it as `interrupted`.
       */
      async function retryLater(cause: unknown): Promise<void> {
        const deferrals = Number(fields.deferrals ?? 0);
        if (deferrals >= MAX_DEFERRALS) {
          jobLogger.error({ err: cause }, 'gate or store unavailable for too long; job failed');
          return fail({ code: 'interrupted', message: 'The job could not be completed' }, '');
        }
        const delayMs = retryDelayMs(deferrals + 1, deps.backoffMs ?? 1000);
        jobLogger.warn({ err: cause, delay_ms: delayMs }, 'gate or store unavailable; job waits');
        return deferFor(delayMs);
      }

      /** A 429 pauses every worker for upstream's retry-after; the job waits without losing an attempt. */
      async function pauseQueue(error: UpstreamError): Promise<void> {
        // A 429 that never clears (a request larger than the whole TPM) must not defer the job forever.
        if (Number(fields.deferrals ?? 0) >= MAX_DEFERRALS) return endOrRetry(error, writer.text);
        const pauseMs = error.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS;
        jobLogger.warn({ pause_ms: pauseMs }, 'upstream rate limit: pausing the queue');
        measure.rateLimited(pauseMs);
        await Promise.all([gate.pause(pauseMs), deps.queue.rateLimit(pauseMs)]);
        return deferFor(pauseMs);
      }

      async function endOrRetry(error: UpstreamError, attemptText: string): Promise<void> {
        if (error.retryable && attempt < maxAttempts) {
          jobLogger.warn({ code: error.code, status: error.status, upstream_message: error.upstreamMessage }, 'attempt failed; retrying');
          measure.retried(error.code);
          if (await jobs.requeue(jobId, owner, attempt)) throw error;
          return;
        }
        jobLogger.warn({ code: error.code, status: error.status, upstream_message: error.upstreamMessage }, 'job failed');
        return fail({ code: error.code, message: error.message }, attemptText, error.status);
      }

      async function fail(error: JobError, attemptText: string, upstreamStatus?: number): Promise<void> {
        const text = prior + attemptText;
        const partial = text ? { content: text, completion_tokens: countTokens(text) } : null;
        const finished = await jobs.finish(jobId, fields, { status: 'failed', error, partial, upstreamStatus }, { owner });
        if (finished.state === 'finished') measure.failed();
      }
    }
  };
}
