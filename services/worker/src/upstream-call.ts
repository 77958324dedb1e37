import type { AttemptOutcome, UpstreamRequest } from '@spool/contracts';
import { classifyUpstreamError, countPromptTokens, countTokens, type Completion } from '@spool/llm';
import type { AttemptMetrics } from './attempt-metrics.js';
import { estimateTokens, UpstreamPausedError } from './upstream-gate.js';
import { DEFAULT_RATE_LIMIT_PAUSE_MS, type RoutedCall, type UpstreamPool } from './upstream-pool.js';
import { traceUpstreamCall } from './tracing-spans.js';

/** Times a call routed to an upstream that got paused before its slot is routed again, before it waits the pause out. */
const MAX_REROUTES = 3;

/** One upstream call of an attempt, for the job's `attempt_log`. */
export interface UpstreamCall {
  upstream: string;
  /** the model asked for: the job's, or a fallback */
  model: string;
  /** ms since the epoch */
  startedAt: number;
  endedAt?: number;
  outcome?: AttemptOutcome;
  errorCode?: string;
}

export interface UpstreamCallOptions {
  measure: AttemptMetrics;
  onDelta(text: string): void;
  signal: AbortSignal;
  /** upstreams the job's last call failed on: another that serves the model goes first */
  avoid?: ReadonlySet<string>;
  /** the call is noted here when it starts, and how it ended when it ends */
  calls: UpstreamCall[];
  /** the call got past its upstream's gate: the fair scheduler may release the next job */
  onGatePassed?: () => void;
  /** the request's prompt tokens when the caller counted them already (the tokenizer is not cheap) */
  promptTokens?: number;
}

/** A completion, and where it came from. */
export interface RoutedCompletion extends Completion {
  upstream: string;
  /** the model that answered (the job's, or a fallback) */
  model: string;
}

/** How a failed call ends up in the attempt log. */
export function callOutcome(error: unknown): AttemptOutcome {
  const classified = classifyUpstreamError(error);
  if (classified.rateLimited) return 'rate_limited';
  if (classified.status === 404) return 'not_served';
  if (classified.code === 'interrupted') return 'aborted';
  return 'failed';
}

/**
 * Routes the call and waits for its upstream's gate slot. A 429 that pauses that upstream while
 * the call waits sends it back to routing, which goes to another upstream serving the model:
 * no job waits out a pause another upstream could spare it (API.md §13).
 */
async function routeThroughGate(pool: UpstreamPool, model: string, tokens: number, options: UpstreamCallOptions): Promise<RoutedCall> {
  const { signal } = options;
  for (let reroutes = 0; ; reroutes++) {
    const routed = await pool.route(model, { avoid: options.avoid, signal, tokens });
    try {
      await routed.member.gate.acquire(tokens, signal, routed.reservedWaitMs, !routed.alone && reroutes < MAX_REROUTES);
      return routed;
    } catch (error) {
      if (!(error instanceof UpstreamPausedError)) throw error;
      await pool.callAbandoned(routed);
    }
  }
}

/**
 * One upstream call: routed to an upstream of the pool that serves the model (or a fallback),
 * through that upstream's gate, then the stream, its deltas to `onDelta`. The gate is charged
 * an estimate, corrected to the usage upstream reports, or to what a failed call used; what the
 * call's end says of its upstream (429, 404, failure) is in Redis before this rejects.
 */
export async function callUpstream(pool: UpstreamPool, request: UpstreamRequest, options: UpstreamCallOptions): Promise<RoutedCompletion> {
  const { measure, signal } = options;
  const promptTokens = options.promptTokens ?? countPromptTokens(request.messages);
  const estimated = estimateTokens(request, promptTokens);
  const routed = await routeThroughGate(pool, request.model, estimated, options);
  const { gate } = routed.member;
  const upstream = routed.member.settings.name;
  options.onGatePassed?.();
  const call: UpstreamCall = { upstream, model: routed.model, startedAt: Date.now() };
  options.calls.push(call);
  measure.upstreamStarted(upstream);
  const ended = pool.callStarted(routed);
  let streamed = '';
  try {
    const { client } = routed.member;
    const sent = pool.requestFor(routed, request);
    const completion = await traceUpstreamCall(client, sent, () =>
      client.stream(sent, {
        signal,
        onDelta: (text) => {
          streamed += text;
          options.onDelta(text);
        },
        onHeaders: (snapshot) => pool.observe(routed, snapshot),
      }),
    );
    ended();
    measure.upstreamEnded();
    Object.assign(call, { endedAt: Date.now(), outcome: 'succeeded' });
    void pool.callEnded(routed);
    if (completion.usage) void gate.correct(estimated, completion.usage.total_tokens).catch(() => undefined);
    return { ...completion, upstream, model: routed.model };
  } catch (error) {
    ended();
    measure.upstreamEnded(error);
    const classified = classifyUpstreamError(error);
    Object.assign(call, { endedAt: Date.now(), outcome: callOutcome(classified), errorCode: classified.code });
    if (classified.rateLimited) measure.rateLimited(classified.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS);
    const used = streamed ? Math.min(estimated, promptTokens + countTokens(streamed)) : 0;
    void gate.correct(estimated, used).catch(() => undefined);
    await pool.callEnded(routed, classified);
    throw error;
  }
}
