import type { UpstreamRequest } from '@spool/contracts';
import { countPromptTokens, countTokens, type Completion, type UpstreamClient } from '@spool/llm';
import type { AttemptMetrics } from './attempt-metrics.js';
import { estimateTokens, type UpstreamGate } from './upstream-gate.js';

/**
 * One upstream call: the shared gate, then the stream, its deltas to `onDelta`. The gate is
 * charged an estimate, corrected to the usage upstream reports, or to what a failed call used.
 */
export async function callUpstream(
  { gate, upstream, onGatePassed }: { gate: UpstreamGate; upstream: UpstreamClient; onGatePassed?: () => void },
  request: UpstreamRequest,
  measure: AttemptMetrics,
  onDelta: (text: string) => void,
  signal: AbortSignal,
): Promise<Completion> {
  const promptTokens = countPromptTokens(request.messages);
  const estimated = estimateTokens(request, promptTokens);
  await gate.acquire(estimated, signal);
  onGatePassed?.();
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
