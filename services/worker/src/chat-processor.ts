import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { JobResult, UpstreamRequest, Usage } from '@spool/contracts';
import type { JobRecord, JobRepository } from '@spool/jobs';
import { streamedText, type EventLog } from '@spool/stream';
import type { ChatJobData } from '@spool/queue';
import { continuationRequest, countPromptTokens, countTokens, type UpstreamError } from '@spool/llm';
import type { Metrics } from '@spool/metrics';
import { Attempt } from './attempt.js';
import { AttemptMetrics } from './attempt-metrics.js';
import { decide, FRESH_EVENT_COUNT, isUnreachable, PrepareRequestError, type AttemptState, type Decision } from './attempt-rules.js';
import { FlushClock } from './flush-clock.js';
import { retryDelayMs } from './backoff.js';
import { HeldDeltas } from './held-deltas.js';
import { callUpstream, type UpstreamCall } from './upstream-call.js';
import type { UpstreamPool } from './upstream-pool.js';
import type { MergedJobs } from './merged-jobs.js';
import type { Budget } from './budget.js';
import { JobSpend } from './job-spend.js';

/** Why BullMQ aborted an attempt (`worker.cancelJob` / `cancelAllJobs`). */
export const ABORT_CANCELLED = 'cancelled';
export const ABORT_SHUTDOWN = 'shutdown';
/** Why an attempt's own calls are aborted once it is over. */
const ATTEMPT_OVER = 'attempt over';

export interface ChatProcessorDeps {
  jobs: JobRepository;
  log: EventLog;
  /** the upstreams, their gates and the routing between them */
  pool: UpstreamPool;
  /** the response cache and merging of identical jobs, for jobs with `cache`; none: such jobs just run */
  merging?: MergedJobs;
  /** a job got past its upstream's gate: the fair scheduler may release the next one */
  onGatePassed?: (jobId: string) => void;
  /** a job waits `delayMs` in the queue's delayed set (handed back, or backing off): the fair scheduler gives its slot to another meanwhile */
  onDeferred?: (tenant: string, jobId: string, delayMs: number) => void;
  /** an attempt's upstream call is about to go: its tenant's rpm/tpm count it (`estimatedTokens`: the job's estimate; 0 when not known yet) */
  onUpstreamCall?: (tenant: string, jobId: string, estimatedTokens: number) => void;
  /** reserves each upstream call's worst case against its tenant's budget and settles it after; none: spend is not counted */
  budget?: Budget;
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
export type PrepareRequest = (request: UpstreamRequest, record: JobRecord) => Promise<UpstreamRequest>;

/** Text streamed by earlier attempts (a retry, a takeover, a hand-back): the next one continues from it. */
async function textSoFar(log: EventLog, jobId: string, eventCount: number): Promise<string> {
  return eventCount > FRESH_EVENT_COUNT ? streamedText(await log.readAfter(jobId, 0)) : '';
}

/** An upstream error as operators' logs show it: upstream's own words, not only what tenants see. */
function upstreamDetails(error: UpstreamError) {
  return { code: error.code, status: error.status, upstream_message: error.upstreamMessage };
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
 * The upstreams a job's next call should leave out: the one its last call failed on (a 429 or a
 * 404 is already in Redis, as a pause or a mark, for every job).
 */
function avoidAfter(calls: readonly { upstream: string; outcome?: string }[]): Set<string> {
  const last = calls.at(-1);
  return new Set(last?.outcome === 'failed' ? [last.upstream] : []);
}

/**
 * One attempt of a chat job: take ownership, route to an upstream of the pool and wait for its
 * gate, stream into the job's log, and end the job once. A retryable failure hands the job back
 * and throws so BullMQ backs off (at once when another upstream takes it); a 429 pauses its
 * upstream and costs no attempt.
 */
export function createChatProcessor(deps: ChatProcessorDeps) {
  const { jobs, log, pool, logger, maxAttempts } = deps;
  const clock = new FlushClock(deps.coalesceMs ?? 80);

  /**
   * What this attempt sends upstream, and the text earlier attempts streamed (it continues from
   * there); null when there is nothing left to call upstream for.
   */
  async function prepare(attempt: Attempt, signal: AbortSignal): Promise<{ request: UpstreamRequest; prior: string } | null> {
    const { jobId, record } = attempt;
    // The attempt before streamed the whole reply, then its worker died before ending the job.
    if (record.stream_end) {
      await attempt.succeed({ content: streamedText(await log.readAfter(jobId, 0)), ...record.stream_end });
      return null;
    }
    // A job with `cache` may end here, from the cache or from an identical job's call it joined.
    const joined = record.cache && deps.merging ? await deps.merging.join(attempt, record.cache, signal) : null;
    if (joined?.ended) return null;
    let prior = joined ? joined.text : await textSoFar(log, jobId, attempt.eventCount);
    if (prior) attempt.measure.continuing();
    if (prior && record.on_interrupt === 'restart') {
      if (!(await attempt.restart())) return null;
      prior = '';
    }
    try {
      return { request: deps.prepareRequest ? await deps.prepareRequest(record.request, record) : record.request, prior };
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      await settle(attempt, decide(new PrepareRequestError(error), stateOf(attempt, false)), prior);
      return null;
    }
  }

  function stateOf(attempt: Attempt, stopping: boolean, readyInMs?: number): AttemptState {
    return { attempt: attempt.number, deferrals: attempt.record.deferrals, maxAttempts, backoffMs: deps.backoffMs ?? 1000, stopping, readyInMs };
  }

  /** After a call that failed upstream: how soon another upstream could take the job (see `AttemptState.readyInMs`). */
  async function readyInMs(model: string, calls: readonly UpstreamCall[]): Promise<number | undefined> {
    const outcome = calls.at(-1)?.outcome;
    if (outcome !== 'failed' && outcome !== 'rate_limited' && outcome !== 'not_served') return undefined;
    return pool.readyInMs(model, avoidAfter(calls));
  }

  /** Carries out the decision on a failed attempt; `text` is everything the job streamed so far. */
  async function settle(attempt: Attempt, decision: Decision, text: string): Promise<void> {
    const { logger: jobLogger, measure } = attempt;
    if (decision.kind === 'retry') {
      jobLogger.warn({ ...upstreamDetails(decision.cause), failover: decision.failover ?? false }, 'attempt failed; retrying');
      measure.retried(decision.cause.code);
      // BullMQ's backoff (worker.ts) waits at least this long: the jitter adds to it.
      const backingOff = (attemptsMade: number) => deferred(attempt, retryDelayMs(attemptsMade, deps.backoffMs ?? 1000, decision.cause, () => 0));
      return attempt.retry(decision.cause, decision.failover, decision.failover ? undefined : backingOff);
    }
    if (decision.kind === 'fail' && decision.reason !== 'upstream') {
      if (decision.reason === 'budget') jobLogger.warn('tenant budget spent: job failed without calling upstream');
      else if (decision.reason === 'outage') jobLogger.error({ err: decision.cause }, 'gate or store unavailable for too long; job failed');
      else jobLogger.error('no upstream serving the model was available for too long; job failed');
      return attempt.fail(decision.error, text);
    }
    if (decision.kind === 'fail') {
      jobLogger.warn(upstreamDetails(decision.cause), 'job failed');
      return attempt.fail(decision.error, text, decision.upstreamStatus);
    }
    if (decision.reason === 'shutdown') jobLogger.info('worker stopping; job handed back');
    if (decision.reason === 'outage') jobLogger.warn({ err: decision.cause, delay_ms: decision.delayMs }, 'gate or store unavailable; job waits');
    if (decision.reason === 'rate_limit') jobLogger.warn({ delay_ms: decision.delayMs }, 'upstream rate limit: its upstream paused, job handed back');
    if (decision.reason === 'not_served') jobLogger.info('the upstream does not serve the model: job handed back for another');
    if (decision.reason === 'unavailable') jobLogger.info({ delay_ms: decision.delayMs }, 'no upstream serving the model is available yet: job waits');
    return attempt.handBack(decision.delayMs, () => deferred(attempt, decision.delayMs));
  }

  function deferred(attempt: Attempt, delayMs: number): void {
    deps.onDeferred?.(attempt.record.tenant, attempt.jobId, delayMs);
  }

  return async function processChat(bullJob: Job<ChatJobData>, token?: string, signal?: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const measure = new AttemptMetrics(deps.metrics, bullJob);
    const deltas = new HeldDeltas();
    const calls: UpstreamCall[] = [];
    const spend = deps.budget && new JobSpend(deps.budget, bullJob.data.jobId, bullJob.data.tenant);
    const starting = Attempt.start(jobs, bullJob, token, logger, measure, spend);
    // A first attempt that carries its request calls upstream while START is on its way: a round
    // trip less before the first token. Its deltas are held until START confirms the attempt. (A
    // cancel that lands between pickup and START costs an upstream call, aborted at once.)
    const carried = bullJob.attemptsStarted <= 1 ? bullJob.data.request : undefined;
    const callOptions = { measure, onDelta: deltas.push, signal: controller.signal, calls, onGatePassed: () => deps.onGatePassed?.(bullJob.data.jobId) };
    // Each call is reserved against the tenant's budget before it goes, and settled after.
    const call = (request: UpstreamRequest, avoid?: ReadonlySet<string>) =>
      spend
        ? spend.call(request, deltas.push, (onDelta, promptTokens) => callUpstream(pool, request, { ...callOptions, onDelta, avoid, promptTokens }))
        : callUpstream(pool, request, { ...callOptions, avoid });
    // Every call is counted for its tenant's rpm/tpm: the job's first (this one, when it goes) is the one its release paid for.
    if (carried && bullJob.data.tenant) deps.onUpstreamCall?.(bullJob.data.tenant, bullJob.data.jobId, 0);
    const headStart = carried ? call(carried) : undefined;
    headStart?.catch(() => undefined); // awaited once the attempt is confirmed
    try {
      const attempt = await starting;
      if (!attempt) return; // cancelled before it ran
      attempt.logCalls(calls);
      if (headStart && attempt.eventCount !== FRESH_EVENT_COUNT) {
        // Defensive (BullMQ counts every pickup): not a first attempt after all, so this one steps
        // aside, uncounted, for one that continues the text so far.
        controller.abort();
        return await attempt.handBack(0);
      }
      const prepared = carried ? { request: carried, prior: '' } : await prepare(attempt, controller.signal);
      if (!prepared) return;
      const { request, prior } = prepared;

      const writer = attempt.deltaWriter(() => controller.abort(), clock);
      deltas.attach((text) => {
        measure.delta();
        writer.push(text);
      });
      try {
        const next = prior ? continuationRequest(request, prior) : request;
        if (!headStart) deps.onUpstreamCall?.(attempt.record.tenant, bullJob.data.jobId, attempt.record.est_tokens);
        const completion = await (headStart ?? call(next, avoidAfter(attempt.record.attempt_log)));
        const content = prior + completion.content;
        const result: JobResult = { content, finish_reason: completion.finishReason, usage: finalUsage(completion.usage, request, prior, content), model: completion.model };
        await writer.end({ finish_reason: result.finish_reason, usage: result.usage, model: result.model });
        if (attempt.record.cache) await deps.merging?.produced(attempt, attempt.record.cache, result);
        await attempt.succeed(result);
      } catch (thrown) {
        await writer.flush().catch(() => undefined);
        // Cancelled, or taken over: the job is no longer this attempt's to write.
        if (writer.lostOwnership || signal?.reason === ABORT_CANCELLED) return;
        const stopping = signal?.reason === ABORT_SHUTDOWN;
        const ready = stopping ? undefined : await readyInMs(request.model, calls);
        await settle(attempt, decide(thrown, stateOf(attempt, stopping, ready)), prior + writer.text);
      }
    } finally {
      // No call outlives its attempt. A reason of ours: abort()'s default, a DOMException,
      // captures a stack trace, on every job, even when nothing is left to abort.
      controller.abort(ATTEMPT_OVER);
      signal?.removeEventListener('abort', onAbort);
    }
  };
}
