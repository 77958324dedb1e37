/**
 * The tracing thread of an `OffThreadTracer`: it turns the records its owner sends (ids, times,
 * attributes) into the SDK's finished spans (`ReadableSpan`), which the SDK's batch processor
 * batches and exports as it does any process's.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { diag, DiagLogLevel, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { hrTimeDuration, millisToHrTime } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { createExport } from './provider.js';
import { diagLogger } from './diag-logger.js';
import type { SpanRecord, ThreadMessage, ThreadOptions } from './off-thread-tracer.js';

/**
 * Lowers this thread's priority (Linux: a thread's own nice value, set through its thread id):
 * when the cores are busy, serving requests comes first and spans wait; elsewhere nothing changes.
 */
function yieldToRequests(): void {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(threadId, 10);
  } catch {
    // not Linux, or not allowed: the thread runs at the process's priority
  }
}

yieldToRequests();
const port = parentPort!;
const options = workerData as ThreadOptions;
diag.setLogger(diagLogger({ warn: (text) => port.postMessage({ warn: text }), error: (text) => port.postMessage({ warn: text }) }), DiagLogLevel.WARN);
const { resource, processor } = await createExport(options);
/** The scope `getTracer('spool')` would give the spans. */
const scope = { name: 'spool' };

/** A record as the SDK's finished span (what a tracer's span is once ended). */
function finished(span: SpanRecord): ReadableSpan {
  // Only sampled spans are handed over.
  const context = { traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED };
  const [startTime, endTime] = [millisToHrTime(span.startMs), millisToHrTime(span.endMs)];
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => context,
    parentSpanContext: span.parentSpanId ? { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true } : undefined,
    startTime,
    endTime,
    duration: hrTimeDuration(startTime, endTime),
    status: span.error === undefined ? { code: SpanStatusCode.UNSET } : { code: SpanStatusCode.ERROR, message: span.error },
    attributes: span.attributes,
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

port.on('message', (message: ThreadMessage) => {
  if ('spans' in message) {
    const spans = JSON.parse(message.spans) as SpanRecord[];
    for (const span of spans) processor.onEnd(finished(span));
    port.postMessage({ made: spans.length });
  } else void processor.shutdown().finally(() => port.postMessage({ stopped: true }));
});
port.postMessage({ ready: true });
