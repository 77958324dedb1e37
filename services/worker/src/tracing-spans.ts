import { SpanKind, trace, type Attributes } from '@opentelemetry/api';
import { DelayedError, type Job } from 'bullmq';
import type { UpstreamRequest } from '@spool/contracts';
import type { Completion } from '@spool/llm';
import { CHAT_QUEUE, type ChatJobData, type WebhookJobData } from '@spool/queue';
import { contextOf, inSpan, spoolTracer } from '@spool/tracing';

type ChatProcessor = (bullJob: Job<ChatJobData>, token?: string, signal?: AbortSignal) => Promise<void>;
type JobTrace = { traceparent?: string; queuedAtMs?: number };

/** `server.address` and `server.port` of a URL. */
function serverOf(url: string): Attributes {
  try {
    const parsed = new URL(url);
    return { 'server.address': parsed.hostname, 'server.port': Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80) };
  } catch {
    return {};
  }
}

/**
 * Each attempt of a job submitted with tracing on is a span of the job's trace, and the wait in
 * the queue before its first attempt another. The trace context comes with a queue entry that
 * carries its request, else from the job hash (`traceOf`). Installed only when tracing is on.
 */
export function traceChatAttempts(processChat: ChatProcessor, traceOf: (jobId: string) => Promise<JobTrace>): ChatProcessor {
  const tracer = spoolTracer();
  return async (bullJob, token, signal) => {
    const pickedUpAt = Date.now();
    const { jobId } = bullJob.data;
    // Redis failing here fails the attempt's own first call too; the attempt, not its span, handles that.
    const { traceparent, queuedAtMs }: JobTrace = bullJob.data.traceparent ? bullJob.data : await traceOf(jobId).catch(() => ({}));
    if (!traceparent) return processChat(bullJob, token, signal);
    const parent = contextOf(traceparent);
    if (queuedAtMs && bullJob.attemptsStarted <= 1) {
      // Clocks of two machines: the wait never starts after it ends.
      const wait = tracer.startSpan('queue wait', { startTime: Math.min(queuedAtMs, pickedUpAt), attributes: { 'spool.job.id': jobId } }, parent);
      wait.end(pickedUpAt);
    }
    const attempt = tracer.startSpan(
      'attempt',
      {
        kind: SpanKind.CONSUMER,
        startTime: pickedUpAt,
        attributes: {
          'spool.job.id': jobId,
          'spool.attempt': bullJob.attemptsMade + 1,
          'messaging.system': 'bullmq',
          'messaging.operation.type': 'process',
          'messaging.destination.name': CHAT_QUEUE,
        },
      },
      parent,
    );
    try {
      return await inSpan(attempt, () => processChat(bullJob, token, signal), (error) => !(error instanceof DelayedError));
    } catch (error) {
      if (error instanceof DelayedError) attempt.setAttribute('spool.attempt.handed_back', true);
      throw error;
    }
  };
}

/** The OpenTelemetry GenAI attributes a chat request sets. */
function requestAttributes(baseURL: string, request: UpstreamRequest): Attributes {
  const number = (value: unknown) => (typeof value === 'number' ? value : undefined);
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.system': 'openai',
    'gen_ai.request.model': request.model,
    'gen_ai.request.max_tokens': number(request.max_completion_tokens) ?? number(request.max_tokens),
    'gen_ai.request.temperature': number(request.temperature),
    'gen_ai.request.top_p': number(request.top_p),
    ...serverOf(baseURL),
  };
}

/** The ones its reply sets. */
function responseAttributes(completion: Completion): Attributes {
  return {
    'gen_ai.response.model': completion.model,
    'gen_ai.response.finish_reasons': [completion.finishReason],
    'gen_ai.usage.input_tokens': completion.usage?.prompt_tokens,
    'gen_ai.usage.output_tokens': completion.usage?.completion_tokens,
  };
}

/**
 * One upstream call as a GenAI client span (`chat <model>`), the child of the attempt running it;
 * a call outside a recorded attempt (tracing off, or the trace not sampled) is only made.
 */
export function traceUpstreamCall(upstream: { baseURL: string }, request: UpstreamRequest, call: () => Promise<Completion>): Promise<Completion> {
  if (!trace.getActiveSpan()?.isRecording()) return call();
  const span = spoolTracer().startSpan(`chat ${request.model}`, { kind: SpanKind.CLIENT, attributes: requestAttributes(upstream.baseURL, request) });
  return inSpan(span, async () => {
    const completion = await call();
    span.setAttributes(responseAttributes(completion));
    return completion;
  });
}

/** One webhook delivery attempt as a span of its job's trace, when the job has one. */
export function traceWebhookDelivery(data: WebhookJobData, deliver: () => Promise<void>): Promise<void> {
  if (!data.traceparent) return deliver();
  const attributes: Attributes = {
    [data.ownerId.startsWith('batch_') ? 'spool.batch.id' : 'spool.job.id']: data.ownerId,
    'spool.webhook.id': data.webhookId,
    'http.request.method': 'POST',
    ...serverOf(data.url),
  };
  const span = spoolTracer().startSpan('webhook delivery', { kind: SpanKind.CLIENT, attributes }, contextOf(data.traceparent));
  return inSpan(span, deliver);
}

/** Notes a delivery's answer and attempt number on its span (when it has one). */
export function noteWebhookAnswer(statusCode: number | null, attempt: number): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  span.setAttribute('spool.webhook.attempt', attempt);
  if (statusCode !== null) span.setAttribute('http.response.status_code', statusCode);
}
