import { context, isSpanContextValid, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';

/** Spool's tracer; a no-op until `startTracing` registered the SDK. */
export function spoolTracer(): Tracer {
  return trace.getTracer('spool');
}

/** The context a stored or received `traceparent` names: spans started in it join its trace. */
export function contextOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** `trace_id` and `span_id` of the active span, for a log line (a pino mixin); empty outside a span. */
export function traceLogFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  const spanContext = span?.spanContext();
  // A fresh object each time: pino merges the line into it.
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/** Marks a span failed by `error`: its exception event, `error.type` (a Spool error's code), and the status. */
export function recordError(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  const type = typeof code === 'string' ? code : error instanceof Error ? error.name : 'error';
  if (error instanceof Error) span.recordException(error);
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * Runs `work` in a span that is active around it and ends with it; a throw is recorded on the
 * span (unless `isError` says it is no failure) and rethrown.
 */
export async function inSpan<T>(span: Span, work: () => Promise<T>, isError: (error: unknown) => boolean = () => true): Promise<T> {
  try {
    return await context.with(trace.setSpan(context.active(), span), work);
  } catch (error) {
    if (isError(error)) recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}
